"""Plain results returned by accelerator drivers.

Drivers are leaves of the service: what they return must cross process boundaries (RPC to the
conductor, JSON in ``pooling-manage drivers probe``) and must never carry behaviour or a live
library handle.  So every result is a frozen dataclass of plain values, and ``as_dict()`` turns
any of them into JSON-ready data.
"""

from __future__ import annotations

import dataclasses
from typing import Any

#: Isolation levels, strongest first.  ``hard``: a hardware partition (MIG, Ascend vNPU, Hygon
#: vDCU ...); ``firm``: limits fixed when the client starts (MPS); ``soft``: API interception
#: (HAMi-core); ``none``: plain time-slicing.
ISOLATION_LEVELS: tuple[str, ...] = ('hard', 'firm', 'soft', 'none')

#: Vendors the pool knows.  ``sim`` devices take one of these too, so they look like real ones.
VENDORS: tuple[str, ...] = (
    'nvidia', 'ascend', 'cambricon', 'hygon', 'iluvatar', 'moorethreads', 'metax', 'kunlunxin',
    'enflame',
)

#: Kinds of link between two devices, best first.  ``pcie_switch``: behind one PCIe switch;
#: ``pcie_hostbridge``: same host bridge; ``numa``: same NUMA node, different bridges;
#: ``system``: crosses the inter-socket link.
LINK_KINDS: tuple[str, ...] = (
    'nvlink', 'hccs', 'mlulink', 'mtlink', 'xgmi', 'xlink', 'pcie_switch', 'pcie_hostbridge',
    'numa', 'system',
)


def as_dict(result: Any) -> Any:
    """Turn a driver result (or a list of them) into JSON-ready data.

    :param result: a dataclass from this module, or a list/tuple of them.
    :returns: dicts, lists and plain values only.
    """
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        return {f.name: as_dict(getattr(result, f.name)) for f in dataclasses.fields(result)}
    if isinstance(result, (list, tuple)):
        return [as_dict(item) for item in result]
    if isinstance(result, dict):
        return {key: as_dict(value) for key, value in result.items()}
    return result


@dataclasses.dataclass(frozen=True)
class Availability:
    """Whether a driver can work on this host, and if not, why."""

    ok: bool
    reason: str = ''


@dataclasses.dataclass(frozen=True)
class DeviceInfo:
    """One physical accelerator as a driver sees it.

    ``uuid`` is stable across reboots (NVIDIA's ``GPU-`` prefix is dropped so that every vendor's
    uuid is a plain UUID string).  ``compute_units`` counts SMs, AI cores, CUs or clusters,
    whatever the vendor schedules on.  ``isolation`` lists the levels of
    :data:`ISOLATION_LEVELS` this device can enforce on this host, strongest first; the scheduler
    only places a slice asking for a level where it is listed.
    """

    uuid: str
    vendor: str
    model: str
    pci_address: str
    memory_mb: int
    compute_units: int
    numa_node: int | None
    driver_version: str
    healthy: bool = True
    health_reason: str = ''
    isolation: tuple[str, ...] = ('none',)
    #: The vendor's own index of the device on this host (the ``-i`` of ``*-smi``).
    index: int = 0
    #: Device nodes a consumer needs, e.g. ``/dev/nvidia0``, ``/dev/davinci3``.
    device_nodes: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class HealthCode:
    """One vendor error code behind a health verdict, e.g. NVIDIA XID 79."""

    source: str
    code: str
    description: str = ''


@dataclasses.dataclass(frozen=True)
class HealthReport:
    """The health of one device, with the vendor codes that explain it."""

    device_uuid: str
    healthy: bool
    reason: str = ''
    codes: tuple[HealthCode, ...] = ()


@dataclasses.dataclass(frozen=True)
class Link:
    """A link between two devices of one host.  ``count`` is lanes/links of that kind."""

    a: str
    b: str
    kind: str
    count: int = 1


@dataclasses.dataclass(frozen=True)
class Topology:
    """How the devices of a host connect, and where each sits relative to the CPUs."""

    links: tuple[Link, ...] = ()
    #: ``(device_uuid, numa_node)`` pairs; ``None`` when the platform does not say.
    numa: tuple[tuple[str, int | None], ...] = ()
    #: ``(device_uuid, cpu_list)`` pairs in the kernel's list form, e.g. ``"0-31,64-95"``.
    cpu_affinity: tuple[tuple[str, str], ...] = ()

    def link(self, a: str, b: str) -> Link | None:
        """Return the best link between two devices, or ``None``.

        :param a: device uuid.
        :param b: device uuid.
        :returns: the :class:`Link` of best kind (by :data:`LINK_KINDS` order), or ``None``.
        """
        found = [lk for lk in self.links if {lk.a, lk.b} == {a, b}]
        if not found:
            return None
        rank = {kind: i for i, kind in enumerate(LINK_KINDS)}
        return min(found, key=lambda lk: rank.get(lk.kind, len(rank)))


@dataclasses.dataclass(frozen=True)
class Utilisation:
    """A sample of how busy one device is."""

    device_uuid: str
    compute_percent: int
    memory_used_mb: int
    memory_total_mb: int
    temperature_c: int | None = None
    power_w: float | None = None


@dataclasses.dataclass(frozen=True)
class PartitionProfile:
    """A hardware partition shape a device can be cut into (MIG profile, vNPU template ...).

    ``compute_milli`` is the share of the card's compute in thousandths, the unit the scheduler
    uses for slices.  ``custom`` profiles (Hygon vDCU) take any size up to the given one.
    """

    name: str
    profile_id: int
    memory_mb: int
    compute_units: int
    compute_milli: int
    max_instances: int
    placements: tuple[int, ...] = ()
    custom: bool = False


@dataclasses.dataclass(frozen=True)
class Partition:
    """One partition that exists on a device.

    ``uuid`` is what a consumer is given (``MIG-...``, a vNPU id, a vDCU id); ``handle`` keeps
    the vendor's ids needed to destroy it (e.g. ``(("gi", "3"), ("ci", "0"))``).
    """

    uuid: str
    device_uuid: str
    profile: str
    memory_mb: int
    compute_units: int
    device_nodes: tuple[str, ...] = ()
    handle: tuple[tuple[str, str], ...] = ()
