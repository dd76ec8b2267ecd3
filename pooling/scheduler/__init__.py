"""Fragmentation-aware placement of vGPUs on a pool of accelerators.

The public contract of the scheduler: the in-memory pool model, the request/placement types and
the ``Scheduler`` that runs filters and a ``pooling.schedulers`` policy plugin.
"""

from pooling.scheduler.framework import POLICY_NAMESPACE
from pooling.scheduler.framework import Scheduler
from pooling.scheduler.framework import load_policy
from pooling.scheduler.model import DeviceState
from pooling.scheduler.model import HostState
from pooling.scheduler.model import PoolModel
from pooling.scheduler.request import NoValidHost
from pooling.scheduler.request import Placement
from pooling.scheduler.request import Request
from pooling.scheduler.request import SliceAssignment

__all__ = [
    "POLICY_NAMESPACE",
    "DeviceState",
    "HostState",
    "NoValidHost",
    "Placement",
    "PoolModel",
    "Request",
    "Scheduler",
    "SliceAssignment",
    "load_policy",
]
