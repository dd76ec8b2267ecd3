"""``vmware``: hand pooled vGPUs to vSphere VMs and read ESXi hosts' GPUs into the pool.

``driver`` is the ``pooling.platforms`` plugin, ``session`` its vCenter connections, ``profiles``
the (pure) mapping between NVIDIA vGPU profile names and the pool's shapes.
"""
