"""``nvidia``: NVIDIA GPUs through NVML (the official ``nvidia-ml-py`` binding, ``import pynvml``).

NVML answers everything the contract asks without shelling out: inventory, XID events, NVLink
and PCIe topology, utilisation, and MIG (profiles, GPU and compute instances).  The binding is
reached only through ``seam.library('pynvml')`` so tests can hand in a fake that returns the
binding's own ctypes structures filled with values recorded from real cards.

We never change MIG mode, clocks or compute mode: a card offers ``hard`` isolation only if an
operator enabled MIG on it, and then only ``hard`` (a MIG-enabled card cannot be time-sliced
whole).  MIG instances are made and destroyed by :mod:`.nvidia_mig`.

Options: ``ignored_xids`` (comma-separated XIDs that do not make a card unhealthy; default the
application-caused ones NVIDIA's k8s device plugin also ignores: 13, 31, 43, 45, 68, 109).
"""

from __future__ import annotations

import logging
from typing import Any

from pooling_drivers.accelerators import base
from pooling_drivers.accelerators import errors
from pooling_drivers.accelerators import nvidia_mig
from pooling_drivers.accelerators import vendors
from pooling_drivers.accelerators.types import Availability
from pooling_drivers.accelerators.types import DeviceInfo
from pooling_drivers.accelerators.types import HealthCode
from pooling_drivers.accelerators.types import HealthReport
from pooling_drivers.accelerators.types import Link
from pooling_drivers.accelerators.types import Topology
from pooling_drivers.accelerators.types import Utilisation

LOG = logging.getLogger(__name__)

DEFAULT_IGNORED_XIDS = (13, 31, 43, 45, 68, 109)
_MIB = 1024 * 1024

# NVML topology levels (nvmlGpuTopologyLevel_t) → our link kinds.
_TOPOLOGY_KINDS = {0: 'pcie_switch', 10: 'pcie_switch', 20: 'pcie_switch', 30: 'pcie_hostbridge',
                   40: 'numa', 50: 'system'}


def text(value: Any) -> str:
    """Return NVML text as ``str`` (older bindings return ``bytes``).

    :param value: ``str`` or ``bytes``.
    :returns: the text.
    """
    return value.decode('utf-8', 'replace') if isinstance(value, bytes) else str(value)


def bus_id(raw: Any) -> str:
    """Normalise an NVML PCI bus id (``00000000:18:00.0``) to sysfs form (``0000:18:00.0``).

    :param raw: NVML's ``busId``.
    :returns: the lower-case sysfs address.
    """
    value = text(raw).lower()
    domain, _, rest = value.partition(':')
    return f'{domain[-4:]}:{rest}' if rest else value


def plain_uuid(nvml_uuid: str) -> str:
    """Drop NVML's ``GPU-`` prefix so the uuid is a plain UUID like every other vendor's.

    :param nvml_uuid: e.g. ``GPU-3b5b0a2e-...``.
    :returns: e.g. ``3b5b0a2e-...``.
    """
    return nvml_uuid[4:] if nvml_uuid.startswith('GPU-') else nvml_uuid


def cpu_list(mask_words: Any) -> str:
    """Turn NVML's CPU-affinity bitmask words (64 bits each) into the kernel's list form.

    :param mask_words: a sequence of 64-bit integers, least significant CPU first.
    :returns: e.g. ``"0-31,64-95"``; ``""`` when empty.
    """
    cpus = [w * 64 + b for w, word in enumerate(mask_words) for b in range(64)
            if int(word) >> b & 1]
    ranges, start = [], None
    for i, cpu in enumerate(cpus):
        if start is None:
            start = cpu
        if i + 1 == len(cpus) or cpus[i + 1] != cpu + 1:
            ranges.append(str(start) if start == cpu else f'{start}-{cpu}')
            start = None
    return ','.join(ranges)


class NvidiaDriver(base.AcceleratorDriver):
    """NVIDIA GPUs on this host, through NVML."""

    name = 'nvidia'
    vendor = 'nvidia'

    def __init__(self, options=None, seam=None):
        super().__init__(options, seam)
        ignored = self.options.get('ignored_xids')
        self.ignored_xids = (tuple(int(x) for x in ignored.split(',') if x.strip())
                             if ignored is not None else DEFAULT_IGNORED_XIDS)
        self._nvml: Any = None
        self._events: Any = None
        #: Critical XIDs seen per device uuid; sticky until the agent restarts, as a card that
        #: raised one needs an operator (or a reset) before it is trusted again.
        self.xids: dict[str, list[int]] = {}

    # -- library --------------------------------------------------------------------------

    def nvml(self) -> Any:
        """Return the initialised NVML binding.

        :returns: the ``pynvml`` module (or its stand-in).
        :raises pooling_drivers.accelerators.errors.DriverUnavailableError: the binding or
            ``libnvidia-ml.so.1`` is missing, or the kernel driver is not loaded.
        """
        if self._nvml is None:
            nvml = self.seam.library('pynvml')
            try:
                nvml.nvmlInit()
            except nvml.NVMLError as exc:
                raise errors.DriverUnavailableError(f'NVML cannot start: {exc}') from exc
            self._nvml = nvml
        return self._nvml

    def available(self) -> Availability:
        try:
            nvml = self.nvml()
            count = nvml.nvmlDeviceGetCount()
        except errors.DriverUnavailableError as exc:
            return Availability(False, str(exc))
        except Exception as exc:  # noqa: BLE001 - NVMLError subclasses; never raise here
            return Availability(False, f'NVML error: {exc}')
        return Availability(True) if count else Availability(False, 'NVML sees no GPU')

    def close(self) -> None:
        if self._nvml is not None:
            try:
                if self._events is not None:
                    self._nvml.nvmlEventSetFree(self._events)
                self._nvml.nvmlShutdown()
            except self._nvml.NVMLError as exc:
                LOG.debug('NVML shutdown: %s', exc)
            self._nvml, self._events = None, None

    def handles(self) -> list[tuple[DeviceInfo, Any]]:
        """Return each device with its NVML handle (used by :mod:`.nvidia_mig`).

        :returns: ``(DeviceInfo, handle)`` pairs in NVML index order.
        """
        nvml = self.nvml()
        self._drain_xids()
        return [(self._describe(nvml, i, h), h) for i, h in self._raw_handles(nvml)]

    def _raw_handles(self, nvml):
        return [(i, nvml.nvmlDeviceGetHandleByIndex(i)) for i in range(nvml.nvmlDeviceGetCount())]

    # -- discovery and health ---------------------------------------------------------------

    def discover(self) -> list[DeviceInfo]:
        return [device for device, _handle in self.handles()]

    def _describe(self, nvml, index, handle) -> DeviceInfo:
        uuid = plain_uuid(text(nvml.nvmlDeviceGetUUID(handle)))
        try:
            name = text(nvml.nvmlDeviceGetName(handle))
            pci = bus_id(nvml.nvmlDeviceGetPciInfo(handle).busId)
            memory_mb = int(nvml.nvmlDeviceGetMemoryInfo(handle).total) // _MIB
        except nvml.NVMLError as exc:
            # NOTE: a card that fell off the bus still has a uuid; report it, unhealthy.
            return DeviceInfo(uuid=uuid, vendor='nvidia', model='unknown', pci_address='',
                              memory_mb=0, compute_units=0, numa_node=None,
                              driver_version=self._driver_version(nvml), healthy=False,
                              health_reason=f'NVML error: {exc}', isolation=('none',),
                              index=index)
        mig_on = nvidia_mig.mig_enabled(nvml, handle)
        minor = self._optional(nvml, nvml.nvmlDeviceGetMinorNumber, handle)
        reason = self._health_reason(nvml, handle, uuid)
        return DeviceInfo(
            uuid=uuid, vendor='nvidia', model=name, pci_address=pci, memory_mb=memory_mb,
            compute_units=self._sm_count(nvml, handle, mig_on), numa_node=self._numa(nvml, handle,
                                                                                  pci),
            driver_version=self._driver_version(nvml), healthy=not reason, health_reason=reason,
            isolation=('hard',) if mig_on else ('firm', 'soft', 'none'), index=index,
            device_nodes=vendors.device_nodes('nvidia', minor if minor is not None else index))

    def _optional(self, nvml, fn, *args):
        try:
            return fn(*args)
        except nvml.NVMLError:
            return None

    def _driver_version(self, nvml) -> str:
        return text(self._optional(nvml, nvml.nvmlSystemGetDriverVersion) or '')

    def _sm_count(self, nvml, handle, mig_on) -> int:
        attrs = self._optional(nvml, nvml.nvmlDeviceGetAttributes, handle)
        if attrs is not None and attrs.multiprocessorCount:
            return int(attrs.multiprocessorCount)
        if mig_on:
            # NOTE: some drivers refuse whole-card attributes in MIG mode; the full profile's
            # SMs are what can be handed out anyway.
            profiles = nvidia_mig.gi_profiles(nvml, handle)
            return max((p.compute_units for p, _info in profiles), default=0)
        return 0

    def _numa(self, nvml, handle, pci) -> int | None:
        node = self._optional(nvml, nvml.nvmlDeviceGetNumaNodeId, handle)
        if node is None:
            try:
                node = int(self.seam.read(f'/sys/bus/pci/devices/{pci}/numa_node').strip())
            except (errors.SeamError, ValueError):
                return None
        return None if node is None or int(node) < 0 else int(node)

    def _health_reason(self, nvml, handle, uuid) -> str:
        codes = self.xids.get(uuid)
        if codes:
            return f'XID {codes[-1]}' + (f' (and {len(codes) - 1} more)' if len(codes) > 1 else '')
        rows = self._optional(nvml, nvml.nvmlDeviceGetRemappedRows, handle)
        if rows is not None and rows[3]:
            return 'row remapping failed: the card needs service'
        return ''

    def _drain_xids(self) -> None:
        """Collect pending XID events without waiting (timeout 0)."""
        nvml = self._nvml
        try:
            if self._events is None:
                self._events = nvml.nvmlEventSetCreate()
                for _i, handle in self._raw_handles(nvml):
                    try:
                        nvml.nvmlDeviceRegisterEvents(
                            handle, nvml.nvmlEventTypeXidCriticalError, self._events)
                    except nvml.NVMLError as exc:
                        LOG.debug('XID events unsupported on a device: %s', exc)
            while True:
                event = nvml.nvmlEventSetWait_v2(self._events, 0)
                xid = int(event.eventData)
                uuid = plain_uuid(text(nvml.nvmlDeviceGetUUID(event.device)))
                if xid in self.ignored_xids:
                    LOG.info('device %s raised XID %s (application error, ignored)', uuid, xid)
                    continue
                LOG.warning('device %s raised XID %s; marking it unhealthy', uuid, xid)
                self.xids.setdefault(uuid, []).append(xid)
        except nvml.NVMLError as exc:
            if getattr(exc, 'value', None) != nvml.NVML_ERROR_TIMEOUT:
                LOG.debug('XID event wait: %s', exc)

    def health(self) -> list[HealthReport]:
        reports = []
        for device in self.discover():
            codes = tuple(HealthCode('xid', str(x)) for x in self.xids.get(device.uuid, []))
            reports.append(HealthReport(device.uuid, device.healthy, device.health_reason, codes))
        return reports

    # -- topology and utilisation -------------------------------------------------------------

    def topology(self) -> Topology:
        nvml = self.nvml()
        pairs = self.handles()
        by_bus = {d.pci_address: d.uuid for d, _h in pairs}
        nvlinks: dict[tuple[str, str], int] = {}
        switched: list[str] = []
        for device, handle in pairs:
            for link in range(nvml.NVML_NVLINK_MAX_LINKS):
                state = self._optional(nvml, nvml.nvmlDeviceGetNvLinkState, handle, link)
                if state != nvml.NVML_FEATURE_ENABLED:
                    continue
                remote = self._optional(nvml, nvml.nvmlDeviceGetNvLinkRemotePciInfo, handle, link)
                peer = by_bus.get(bus_id(remote.busId)) if remote is not None else None
                if peer is None:
                    # NOTE: the far end is an NVSwitch: every switched GPU reaches every other.
                    if device.uuid not in switched:
                        switched.append(device.uuid)
                elif peer != device.uuid:
                    key = tuple(sorted((device.uuid, peer)))
                    nvlinks[key] = nvlinks.get(key, 0) + 1
        links = [Link(a, b, 'nvlink', n // 2 or 1) for (a, b), n in sorted(nvlinks.items())]
        for i, a in enumerate(switched):
            links.extend(Link(a, b, 'nvlink') for b in switched[i + 1:]
                         if tuple(sorted((a, b))) not in nvlinks)
        for i, (dev_a, h_a) in enumerate(pairs):
            for dev_b, h_b in pairs[i + 1:]:
                level = self._optional(nvml, nvml.nvmlDeviceGetTopologyCommonAncestor, h_a, h_b)
                if level is not None:
                    links.append(Link(dev_a.uuid, dev_b.uuid, _TOPOLOGY_KINDS.get(int(level),
                                                                                  'system')))
        affinity = []
        for device, handle in pairs:
            mask = self._optional(nvml, nvml.nvmlDeviceGetCpuAffinity, handle, 16)
            if mask is not None:
                affinity.append((device.uuid, cpu_list(mask)))
        return Topology(links=tuple(links), numa=tuple((d.uuid, d.numa_node) for d, _h in pairs),
                        cpu_affinity=tuple(affinity))

    def utilisation(self) -> list[Utilisation]:
        nvml = self.nvml()
        samples = []
        for device, handle in self.handles():
            rates = self._optional(nvml, nvml.nvmlDeviceGetUtilizationRates, handle)
            memory = self._optional(nvml, nvml.nvmlDeviceGetMemoryInfo, handle)
            temp = self._optional(nvml, nvml.nvmlDeviceGetTemperature, handle,
                                  nvml.NVML_TEMPERATURE_GPU)
            power = self._optional(nvml, nvml.nvmlDeviceGetPowerUsage, handle)
            samples.append(Utilisation(
                device_uuid=device.uuid, compute_percent=int(rates.gpu) if rates else 0,
                memory_used_mb=int(memory.used) // _MIB if memory else 0,
                memory_total_mb=device.memory_mb,
                temperature_c=int(temp) if temp is not None else None,
                power_w=power / 1000.0 if power is not None else None))
        return samples

    # -- MIG ------------------------------------------------------------------------------

    def _handle(self, device_uuid: str):
        for device, handle in self.handles():
            if device.uuid == device_uuid:
                return device, handle
        raise errors.DeviceNotFoundError(f'NVML sees no GPU {device_uuid}')

    def partition_profiles(self, device_uuid):
        device, handle = self._handle(device_uuid)
        if 'hard' not in device.isolation:
            return []
        return [profile for profile, _info in nvidia_mig.gi_profiles(self.nvml(), handle)]

    def partitions(self, device_uuid):
        _device, handle = self._handle(device_uuid)
        return [found.partition for found in nvidia_mig.instances(self.nvml(), handle,
                                                                  device_uuid)]

    def create_partition(self, device_uuid, profile, *, memory_mb=None, compute_units=None):
        device, handle = self._handle(device_uuid)
        if 'hard' not in device.isolation:
            raise errors.NotSupportedError(
                f'GPU {device_uuid} ({device.model}) has MIG disabled or unsupported; '
                'the pool never changes MIG mode')
        return nvidia_mig.create(self.nvml(), handle, device, profile)

    def destroy_partition(self, device_uuid, partition_uuid):
        _device, handle = self._handle(device_uuid)
        nvidia_mig.destroy(self.nvml(), handle, device_uuid, partition_uuid)
