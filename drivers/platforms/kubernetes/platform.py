"""``kubernetes``: the CDI side of a pod's vGPU, as a ``pooling.platforms`` driver.

The kubelet plugin and the device plugin write a claim's CDI spec themselves, on the node, at
prepare time (they need its device id in their answer).  This driver is the same writer for the
agent hook: enable it on a node's pooling-agent (``[platforms] enabled = kubernetes``) when the
pooling-k8s pods cannot write the host's ``/var/run/cdi``, and the agent keeps the specs of that
node's Kubernetes vGPUs in step (written when ACTIVE, removed on release, strays reconciled).
"""

from pooling_drivers.platforms import cdi


class KubernetesPlatform(cdi.CdiPlatform):
    name = 'kubernetes'
    platforms = ('kubernetes',)
    file_tag = 'k8s'
