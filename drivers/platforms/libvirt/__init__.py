"""``libvirt``: hand pooled vGPUs to libvirt domains on KVM hosts outside Nova.

``driver`` is the ``pooling.platforms`` plugin, ``sysfs`` the one seam to the kernel's vGPU
interfaces (mediated devices, and NVIDIA's ``current_vgpu_type`` on kernels >= 6.8), ``domain``
the ``<hostdev>`` XML.
"""
