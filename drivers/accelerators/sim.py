"""``sim``: simulated accelerators of any vendor, the default driver.

The all-in-one, the functional tests and demos need hosts full of cards without the cards.  The
simulator reports devices that look like real ones (stable uuids and PCI addresses per host, the
vendor's device nodes, the isolation levels our plugins can enforce on such a card), keeps MIG /
vNPU / vDCU partitions in memory with the vendors' capacity rules, and lets tests and operators
flip a device's health at run time through a JSON file.

Options (strings, from the agent's config):

``host``
    Name the uuids and PCI addresses derive from (default ``sim-host``).
``devices``
    ``vendor:model:memory_mb:compute_units:count[:iso+iso]`` items, comma-separated, e.g.
    ``nvidia:A100-SXM4-80GB:81920:108:4,ascend:Ascend910B3:65536:20:2``.  The optional sixth
    field overrides the isolation levels (``hard+none``).
``health_file``
    JSON object ``{"<uuid or index>": "<reason>"}`` re-read at every discovery; a listed device
    is unhealthy for that reason.  A missing file means all healthy.
``unavailable``
    If set, :meth:`SimDriver.available` says no with this reason (to rehearse a missing tool).
``islands``
    Device indexes that share the vendor's native link (NVLink, HCCS ...), one island per
    comma-separated item, each ``first-last`` or ``a+b+c``, e.g. ``0-3,4-7`` (two NVLink
    islands of an 8-card board).  Cards of different islands on one NUMA node share a host
    bridge (``pcie_hostbridge``), others only the inter-socket link (``system``).  Without it,
    the cards of each NUMA half share the native link.
``state_file``
    JSON file where the partitions are kept, so that they outlive the agent as a real card's
    MIG instances do (an agent restart must find them and release what the pool dropped).
    Unset: partitions live in memory only.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import uuid as uuid_mod

from pooling_drivers.accelerators import base
from pooling_drivers.accelerators import errors
from pooling_drivers.accelerators import profiles as profiles_mod
from pooling_drivers.accelerators import vendors
from pooling_drivers.accelerators.types import ISOLATION_LEVELS
from pooling_drivers.accelerators.types import VENDORS
from pooling_drivers.accelerators.types import Availability
from pooling_drivers.accelerators.types import DeviceInfo
from pooling_drivers.accelerators.types import Link
from pooling_drivers.accelerators.types import Partition
from pooling_drivers.accelerators.types import PartitionProfile
from pooling_drivers.accelerators.types import Topology
from pooling_drivers.accelerators.types import Utilisation

LOG = logging.getLogger(__name__)

DEFAULT_DEVICES = 'nvidia:A100-SXM4-80GB:81920:108:2'
_NAMESPACE = uuid_mod.UUID('0b6b6c4e-4f53-4d0e-9a59-706f6f6c696e')


@dataclasses.dataclass(frozen=True)
class SimSpec:
    """One item of the ``devices`` option."""

    vendor: str
    model: str
    memory_mb: int
    compute_units: int
    count: int
    isolation: tuple[str, ...] | None = None


def parse_devices(spec: str) -> list[SimSpec]:
    """Parse the ``devices`` option.

    :param spec: comma-separated ``vendor:model:memory_mb:compute_units:count[:iso+iso]``.
    :returns: one :class:`SimSpec` per item.
    :raises ValueError: an item is malformed; the message quotes the item and the bad field.
    """
    items = [part.strip() for part in spec.split(',') if part.strip()]
    if not items:
        raise ValueError('sim devices spec is empty; expected vendor:model:memory_mb:'
                         'compute_units:count[,...]')
    result = []
    for item in items:
        fields = item.split(':')
        if len(fields) not in (5, 6):
            raise ValueError(f'sim devices item {item!r}: expected vendor:model:memory_mb:'
                             f'compute_units:count[:isolation], got {len(fields)} fields')
        vendor, model = fields[0].strip().lower(), fields[1].strip()
        if vendor not in VENDORS:
            raise ValueError(f'sim devices item {item!r}: unknown vendor {vendor!r}; '
                             f'known: {", ".join(VENDORS)}')
        if not model:
            raise ValueError(f'sim devices item {item!r}: empty model')
        numbers = []
        for label, text in zip(('memory_mb', 'compute_units', 'count'), fields[2:5]):
            try:
                value = int(text)
            except ValueError:
                value = 0
            if value <= 0:
                raise ValueError(f'sim devices item {item!r}: {label} must be a positive '
                                 f'integer, got {text!r}')
            numbers.append(value)
        isolation = None
        if len(fields) == 6:
            isolation = tuple(level.strip() for level in fields[5].split('+') if level.strip())
            bad = [level for level in isolation if level not in ISOLATION_LEVELS]
            if bad or not isolation:
                raise ValueError(f'sim devices item {item!r}: isolation must be levels among '
                                 f'{"+".join(ISOLATION_LEVELS)}, got {fields[5]!r}')
        result.append(SimSpec(vendor, model, numbers[0], numbers[1], numbers[2], isolation))
    return result


def parse_islands(spec: str) -> list[tuple[int, ...]]:
    """Parse the ``islands`` option.

    :param spec: comma-separated islands, each ``first-last`` or ``a+b+c`` device indexes.
    :returns: one tuple of indexes per island.
    :raises ValueError: an item is malformed or an index is in two islands.
    """
    islands: list[tuple[int, ...]] = []
    seen: set[int] = set()
    for item in (part.strip() for part in spec.split(',')):
        if not item:
            continue
        try:
            if '-' in item:
                first, last = (int(x) for x in item.split('-', 1))
                members = tuple(range(first, last + 1))
            else:
                members = tuple(int(x) for x in item.split('+'))
        except ValueError:
            members = ()
        if not members or min(members) < 0:
            raise ValueError(f'sim islands item {item!r}: expected first-last or a+b+c of '
                             f'device indexes')
        if seen & set(members):
            raise ValueError(f'sim islands item {item!r}: index already in another island')
        seen.update(members)
        islands.append(members)
    return islands


def default_isolation(vendor: str, model: str) -> tuple[str, ...]:
    """Return the isolation levels our plugins can enforce on a device of this kind.

    :param vendor: the vendor.
    :param model: the model name.
    :returns: levels, strongest first.
    """
    if vendor == 'nvidia':
        hard = ('hard',) if profiles_mod.mig_table(model) else ()
        return hard + ('firm', 'soft', 'none')
    if vendor == 'ascend' and profiles_mod.vnpu_profiles(model, 1):
        return ('hard', 'none')
    if vendor == 'hygon':
        return ('hard', 'none')
    return ('none',)


class SimDriver(base.AcceleratorDriver):
    """Simulated devices; see the module docstring for options."""

    name = 'sim'

    def __init__(self, options=None, seam=None):
        super().__init__(options, seam)
        self.host = self.options.get('host') or 'sim-host'
        self.specs = parse_devices(self.options.get('devices') or DEFAULT_DEVICES)
        self.health_file = self.options.get('health_file') or ''
        self.islands = parse_islands(self.options.get('islands') or '')
        self._health: dict[str, str] = {}
        self._partitions: dict[str, list[Partition]] = {}
        self._next_id = 0
        self.state_file = self.options.get('state_file') or ''
        self._load_state()

    def _load_state(self) -> None:
        if not self.state_file:
            return
        try:
            with open(self.state_file, encoding='utf-8') as handle:
                data = json.load(handle)
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            LOG.warning('sim state file %s unreadable, starting empty: %s', self.state_file, exc)
            return
        self._next_id = int(data.get('next_id', 0))
        for device_uuid, parts in (data.get('partitions') or {}).items():
            self._partitions[device_uuid] = [
                Partition(uuid=p['uuid'], device_uuid=p['device_uuid'], profile=p['profile'],
                          memory_mb=p['memory_mb'], compute_units=p['compute_units'],
                          device_nodes=tuple(p.get('device_nodes') or ()),
                          handle=tuple(tuple(h) for h in p.get('handle') or ()))
                for p in parts]

    def _save_state(self) -> None:
        if not self.state_file:
            return
        data = {'next_id': self._next_id,
                'partitions': {d: [dataclasses.asdict(p) for p in parts]
                               for d, parts in self._partitions.items()}}
        os.makedirs(os.path.dirname(self.state_file) or '.', exist_ok=True)
        tmp = self.state_file + '.tmp'
        with open(tmp, 'w', encoding='utf-8') as handle:
            json.dump(data, handle)
        os.replace(tmp, self.state_file)

    def available(self) -> Availability:
        reason = self.options.get('unavailable')
        return Availability(False, reason) if reason else Availability(True)

    def discover(self) -> list[DeviceInfo]:
        health = self._read_health()
        total = sum(spec.count for spec in self.specs)
        bus_base = 0x10 + uuid_mod.uuid5(_NAMESPACE, self.host).int % 0x40
        devices, index = [], 0
        for spec in self.specs:
            for _ in range(spec.count):
                uuid = str(uuid_mod.uuid5(
                    _NAMESPACE, f'{self.host}/{index}/{spec.vendor}/{spec.model}'))
                reason = health.get(uuid) or health.get(str(index)) or ''
                devices.append(DeviceInfo(
                    uuid=uuid, vendor=spec.vendor, model=spec.model,
                    pci_address=f'0000:{(bus_base + index * 8) % 0x100:02x}:00.0',
                    memory_mb=spec.memory_mb, compute_units=spec.compute_units,
                    numa_node=0 if total < 2 or index < total / 2 else 1,
                    driver_version='sim-1.0', healthy=not reason, health_reason=reason,
                    isolation=spec.isolation or default_isolation(spec.vendor, spec.model),
                    index=index, device_nodes=vendors.device_nodes(spec.vendor, index)))
                index += 1
        return devices

    def topology(self) -> Topology:
        devices = self.discover()
        island = {index: n for n, members in enumerate(self.islands) for index in members}
        links = []
        for i, a in enumerate(devices):
            for b in devices[i + 1:]:
                if a.vendor != b.vendor:
                    continue
                if self.islands:
                    same = island.get(a.index, -1 - a.index) == island.get(b.index, -1 - b.index)
                else:
                    same = a.numa_node == b.numa_node
                if same:
                    kind = vendors.FACTS[a.vendor].link_kind
                elif a.numa_node == b.numa_node:
                    kind = 'pcie_hostbridge'
                else:
                    kind = 'system'
                links.append(Link(a.uuid, b.uuid, kind))
        return Topology(links=tuple(links), numa=tuple((d.uuid, d.numa_node) for d in devices))

    def utilisation(self) -> list[Utilisation]:
        # NOTE: simulated cards do no work; memory "used" is what partitions hold.
        return [Utilisation(d.uuid, 0, sum(p.memory_mb for p in self._partitions.get(d.uuid, [])),
                            d.memory_mb) for d in self.discover()]

    def partition_profiles(self, device_uuid: str) -> list[PartitionProfile]:
        device = self._device(device_uuid)
        if 'hard' not in device.isolation:
            return []
        if device.vendor == 'nvidia':
            return profiles_mod.mig_profiles(device.model)
        if device.vendor == 'ascend':
            return profiles_mod.vnpu_profiles(device.model, device.compute_units)
        if device.vendor == 'hygon':
            return profiles_mod.vdcu_profiles(device.memory_mb, device.compute_units)
        return []

    def partitions(self, device_uuid: str) -> list[Partition]:
        self._device(device_uuid)
        return list(self._partitions.get(device_uuid, []))

    def create_partition(self, device_uuid, profile, *, memory_mb=None, compute_units=None):
        device = self._device(device_uuid)
        table = {p.name: p for p in self.partition_profiles(device_uuid)}
        if not table:
            raise errors.NotSupportedError(
                f'sim device {device_uuid} ({device.vendor} {device.model}) has no partitions')
        if profile not in table:
            raise errors.NotSupportedError(
                f'sim device {device_uuid} has no profile {profile!r}; has: {", ".join(table)}')
        prof = table[profile]
        existing = self._partitions.setdefault(device_uuid, [])
        if sum(1 for p in existing if p.profile == profile) >= prof.max_instances:
            raise errors.InsufficientCapacityError(
                f'{profile} already has its {prof.max_instances} instances on {device_uuid}')
        if device.vendor == 'nvidia':
            part = self._carve_mig(device, prof, existing)
        else:
            part = self._carve_shares(device, prof, existing, memory_mb, compute_units)
        existing.append(part)
        self._save_state()
        return part

    def destroy_partition(self, device_uuid, partition_uuid):
        self._device(device_uuid)
        existing = self._partitions.get(device_uuid, [])
        for part in existing:
            if part.uuid == partition_uuid:
                existing.remove(part)
                self._save_state()
                return
        raise errors.PartitionNotFoundError(
            f'sim device {device_uuid} has no partition {partition_uuid}')

    def _carve_mig(self, device, prof, existing):
        taken = set()
        for part in existing:
            start = int(dict(part.handle)['placement'])
            taken.update(range(start, start + profiles_mod.mig_slices(part.profile)))
        size = profiles_mod.mig_slices(prof.name)
        for start in prof.placements:
            if not taken & set(range(start, start + size)):
                break
        else:
            raise errors.InsufficientCapacityError(
                f'no free placement for {prof.name} on {device.uuid}')
        self._next_id += 1
        mig = uuid_mod.uuid5(_NAMESPACE, f'{device.uuid}/mig/{self._next_id}')
        return Partition(uuid=f'MIG-{mig}', device_uuid=device.uuid, profile=prof.name,
                         memory_mb=prof.memory_mb, compute_units=prof.compute_units,
                         device_nodes=device.device_nodes,
                         handle=(('gi', str(self._next_id)), ('ci', '0'),
                                 ('placement', str(start))))

    def _carve_shares(self, device, prof, existing, memory_mb, compute_units):
        memory = memory_mb if prof.custom and memory_mb else prof.memory_mb
        units = compute_units if prof.custom and compute_units else prof.compute_units
        if prof.custom and (memory > device.memory_mb or units > device.compute_units):
            raise errors.InsufficientCapacityError(
                f'{prof.name} of {memory} MiB/{units} units exceeds device {device.uuid}')
        if (sum(p.memory_mb for p in existing) + memory > device.memory_mb
                or sum(p.compute_units for p in existing) + units > device.compute_units):
            raise errors.InsufficientCapacityError(
                f'no room for {prof.name} ({memory} MiB, {units} units) on {device.uuid}')
        self._next_id += 1
        nodes = device.device_nodes
        if device.vendor == 'ascend':
            # NOTE: Ascend numbers vNPUs from 100 upwards per host, node /dev/vdavinci<id>.
            ident = str(100 + self._next_id)
            nodes = (f'/dev/vdavinci{ident}',) + nodes[1:]
        else:
            ident = f'vdev{self._next_id}'
        return Partition(uuid=ident, device_uuid=device.uuid, profile=prof.name,
                         memory_mb=memory, compute_units=units, device_nodes=nodes,
                         handle=(('id', ident),))

    def _read_health(self) -> dict[str, str]:
        if not self.health_file:
            return {}
        if not self.seam.exists(self.health_file):
            self._health = {}
            return {}
        try:
            data = json.loads(self.seam.read(self.health_file))
            if not isinstance(data, dict):
                raise ValueError('not a JSON object')
            self._health = {str(key): str(value) for key, value in data.items() if value}
        except (errors.SeamError, ValueError) as exc:
            # NOTE: a half-written file must not flip every device; keep the last good state.
            LOG.warning('sim health file %s unreadable, keeping last state: %s',
                        self.health_file, exc)
        return self._health
