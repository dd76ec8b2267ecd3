"""Fragmentation-aware placement of vGPUs on a pool of accelerators.

The public contract of the scheduler: the in-memory pool model, the request/placement types and
the ``Scheduler`` that runs filters and a ``pooling.schedulers`` policy plugin.
"""

from pooling.scheduler.framework import POLICY_NAMESPACE, Scheduler, load_policy
from pooling.scheduler.model import DeviceState, HostState, PoolModel
from pooling.scheduler.request import NoValidHost, Placement, Request, SliceAssignment

__all__ = [
    'POLICY_NAMESPACE', 'DeviceState', 'HostState', 'NoValidHost', 'Placement', 'PoolModel',
    'Request', 'Scheduler', 'SliceAssignment', 'load_policy',
]
