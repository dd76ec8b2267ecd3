"""Drivers for the other domestic accelerators, each over its vendor's ``*-smi`` tool.

* ``hygon`` — moved to :mod:`~pooling_drivers.accelerators.hygon` (``hy-smi`` plus vDCUs
  through ``libhydmi``); re-exported here under its old name.
* ``cambricon`` (``cnmon``), ``iluvatar`` (``ixsmi``), ``metax`` (``mx-smi``),
  ``moorethreads`` (``mthreads-gmi``), ``kunlunxin`` (``xpu_smi``) — the default boxed table,
  like nvidia-smi's, read by :func:`cli.parse_smi_table`.
* ``enflame`` (``efsmi -q``) — "Key : Value" blocks, one per device, read by field-name
  candidates (layout not yet checked against a capture).

These drivers report devices whole (isolation ``none``): their hard partitions (Cambricon sMLU,
Moore Threads MPC, Kunlunxin vXPU, Enflame DRS) are not made by us yet, so
``create_partition`` says so and the devices do not advertise ``hard``.  Field names whose
origin is a vendor manual summary rather than a capture are marked *unverified* in
``doc/source/drivers.md``; each test fixture says which.
"""

from __future__ import annotations

import re
from typing import ClassVar

from pooling_drivers.accelerators import cli
from pooling_drivers.accelerators import errors
from pooling_drivers.accelerators.hygon import HygonDriver  # noqa: F401 - the name's old home


def pick(row: dict[str, str], *candidates: str) -> str:
    """Return the first value whose key (or last key part) matches a candidate, else ``""``.

    :param row: parsed fields; nested keys are dotted (``FB Memory Usage.Total``).
    :param candidates: names, case-insensitive; a dotted candidate must match the full key.
    :returns: the value.
    """
    lowered = {key.lower(): value for key, value in row.items()}
    for candidate in candidates:
        wanted = candidate.lower()
        if wanted in lowered:
            return lowered[wanted]
        for key, value in lowered.items():
            if '.' not in wanted and key.rsplit('.', 1)[-1] == wanted:
                return value
    return ''


class _NoPartitions:
    """Mixin: say plainly that hard partitions are not implemented for this vendor."""

    partition_kind: ClassVar[str] = 'hard partitions'

    def create_partition(self, device_uuid, profile, *, memory_mb=None, compute_units=None):
        raise errors.NotSupportedError(
            f'the {self.name} driver does not make {self.partition_kind} yet')

    def destroy_partition(self, device_uuid, partition_uuid):
        raise errors.NotSupportedError(
            f'the {self.name} driver does not manage {self.partition_kind} yet')


class KvSmiDriver(_NoPartitions, cli.CliDriver):
    """A tool printing one "Key : Value" block per device; subclasses name the keys."""

    #: Regular expression of a block's first line; group 1, if any, is the device index.
    block_start: ClassVar[str]
    model_keys: ClassVar[tuple[str, ...]] = ('Product Name',)
    uuid_keys: ClassVar[tuple[str, ...]] = ('UUID',)
    serial_keys: ClassVar[tuple[str, ...]] = ('Serial Number', 'SN')
    pci_keys: ClassVar[tuple[str, ...]] = ('Bus Id', 'Bus ID', 'PCI Bus')
    memory_keys: ClassVar[tuple[str, ...]] = ('Memory Usage.Total', 'FB Memory Usage.Total',
                                              'Total')
    driver_keys: ClassVar[tuple[str, ...]] = ('Driver Version',)
    health_keys: ClassVar[tuple[str, ...]] = ('Health',)
    healthy_values: ClassVar[tuple[str, ...]] = ('ok', 'healthy', 'normal', 'n/a', '')

    def parse(self, output):
        rows = cli.parse_kv_blocks(output, self.block_start)
        if self.driver_keys:
            found = re.search(r'(?:Driver Version)\s*:\s*(\S+)', output, re.IGNORECASE)
            for row in rows:
                row.setdefault('_driver', found.group(1) if found else '')
        return rows

    def row_to_device(self, position, row):
        pci_text = pick(row, *self.pci_keys) or (row.get('_index') or '')
        pci = cli.pci_address(pci_text)
        identity = pick(row, *self.serial_keys) or pci or str(position)
        health = pick(row, *self.health_keys)
        healthy = health.strip().lower() in self.healthy_values
        index = row.get('_index') or ''
        return self.device(
            uuid=self.stable_uuid(pick(row, *self.uuid_keys), identity),
            model=pick(row, *self.model_keys) or 'unknown', pci=pci,
            memory_mb=cli.to_mib(pick(row, *self.memory_keys)),
            index=int(index) if index.isdigit() else position,
            driver_version=pick(row, *self.driver_keys) or row.get('_driver', ''),
            healthy=healthy, reason='' if healthy else f'{self.tool} health {health}')


class TableSmiDriver(_NoPartitions, cli.CliDriver):
    """A tool whose default output is nvidia-smi's boxed table; subclasses name the columns.

    These tables print no device uuid and no health: devices get a stable uuid from the host
    and PCI address, and a listed device is healthy (the tool lists what it can reach).
    """

    inventory: ClassVar[tuple[str, ...]] = ()
    #: Regular expression of a device's first table line, with groups ``index``, ``name``,
    #: ``bus``; matched against the stripped line.
    device_line: ClassVar[str]
    #: Regular expression of the banner's driver version (group 1).
    driver_line: ClassVar[str] = r'Driver(?: Version)?:?\s*(v?[0-9][\w.\-]*)'

    def parse(self, output):
        rows = cli.parse_smi_table(output, self.device_line)
        found = re.search(self.driver_line, output)
        for row in rows:
            row.setdefault('_driver', found.group(1) if found else '')
        return rows

    def row_to_device(self, position, row):
        pci = cli.pci_address(row.get('bus', ''))
        index = row.get('index', '')
        return self.device(
            uuid=self.stable_uuid('', pci or str(position)), model=row.get('name') or 'unknown',
            pci=pci, memory_mb=cli.to_mib(row.get('memory.total', '')),
            index=int(index) if index.isdigit() else position,
            driver_version=row.get('_driver', ''))


#: ``0000:39:00.0`` or ``00000000:8A:00.0``.
_BUS = r'(?P<bus>[0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7])'


class IluvatarDriver(TableSmiDriver):
    """Iluvatar CoreX GPUs (BI-V100/V150, MR-V50/V100) through ``ixsmi`` (its default table).

    ``| 0    Iluvatar BI-V150S        | 00000000:8A:00.0     | 500MHz    1600MHz    |`` then
    ``| 0%   33C   P0    N/A / N/A    | 114MiB / 32768MiB    | 0%        Default    |``;
    the banner says ``IX-ML: 4.0.0       Driver Version: 4.1.0``.
    """

    name = 'iluvatar'
    vendor = 'iluvatar'
    tool = 'ixsmi'
    device_line = r'^\|\s*(?P<index>\d+)\s+(?P<name>\S.*?)\s*\|\s*' + _BUS + r'\s*\|'
    # CUDA-core clusters are not printed; unverified vendor spec figures.
    models = (('BI-V150', 64), ('BI-V100', 64), ('MR-V100', 32), ('MR-V50', 16))
    partition_kind = 'gpu-manager slices'


class CambriconDriver(TableSmiDriver):
    """Cambricon MLUs (MLU370, MLU590) through ``cnmon`` (its default table).

    ``| 0     /   MLU370-X8    v1.1.6 |         0000:39:00.0 | 0%                N/A |`` then
    ``|  0%   32C        106 W/ 250 W |     0 MiB/ 23374 MiB | N/A           Default |``;
    the banner says ``CNMON v5.10.13 ... Driver v5.10.13``.
    """

    name = 'cambricon'
    vendor = 'cambricon'
    tool = 'cnmon'
    device_line = (r'^\|\s*(?P<index>\d+)\s+(?P<vf>\S+)\s+(?P<name>\S+)\s+(?P<firmware>v[0-9.]+)'
                   r'\s*\|\s*' + _BUS + r'\s*\|')
    models = (('MLU370', 64), ('MLU590', 80))  # clusters x cores; unverified
    partition_kind = 'sMLU slices'


class MooreThreadsDriver(TableSmiDriver):
    """Moore Threads GPUs (MTT S4000/S5000) through ``mthreads-gmi`` (its default table).

    ``0    MTT S5000            |00000000:2a:00.0    |0%    66641MiB(81920MiB)`` (used and, in
    brackets, total memory); the banner says ``mthreads-gmi:2.3.2  Driver Version:3.3.5-server``.
    """

    name = 'moorethreads'
    vendor = 'moorethreads'
    tool = 'mthreads-gmi'
    device_line = r'^(?P<index>\d+)\s+(?P<name>\S.*?)\s*\|\s*' + _BUS + r'\s*\|'
    models = (('S5000', 128), ('S4000', 128))  # MPC clusters; unverified
    partition_kind = 'MPC instances'


class MetaxDriver(TableSmiDriver):
    """MetaX GPUs (C500, C550, N100) through ``mx-smi`` (its default table).

    ``| 0           MXC550                 | 0000:2a:00.0        | 0%                   |`` then
    ``| 31C         44W                    | 810/65536 MiB       |                      |``;
    the banner says ``Kernel Mode Driver Version: 2.5.014``.
    """

    name = 'metax'
    vendor = 'metax'
    tool = 'mx-smi'
    device_line = IluvatarDriver.device_line
    models = (('C500', 104), ('C550', 104), ('N100', 16))  # unverified
    partition_kind = 'sGPU slices'


class KunlunxinDriver(TableSmiDriver):
    """Kunlunxin XPUs (P800) through ``xpu_smi`` (its default table).

    The tool is ``xpu_smi`` (underscore; ``xpu-smi`` is Intel's XPU Manager CLI).
    ``|   0  P800 OAM           N/A   | 00000000:03:00.0 N/A |                    0 |`` then
    ``| N/A   37C  N/A     85W / 400W |      0MiB / 98304MiB |      0%      Default |``;
    the banner says ``XPU-SMI               Driver Version: 5.0.21.26``.
    """

    name = 'kunlunxin'
    vendor = 'kunlunxin'
    tool = 'xpu_smi'
    device_line = (r'^\|\s*(?P<index>\d+)\s+(?P<name>\S.*?)\s+(?:On|Off|N/A)\s*\|\s*' + _BUS
                   + r'\s')
    models = (('P800', 64),)  # unverified
    partition_kind = 'vXPU slices'


class EnflameDriver(KvSmiDriver):
    """Enflame GCUs (S60, L300, L600) through ``efsmi -q``."""

    name = 'enflame'
    vendor = 'enflame'
    tool = 'efsmi'
    inventory = ('-q',)
    block_start = r'^DEV ID\s+(\d+)$'
    uuid_keys = ('Dev UUID', 'UUID')
    serial_keys = ('Serial Number', 'Dev SN')
    pci_keys = ('PCIe Bus Info.Bus Id', 'Bus Id')
    memory_keys = ('Memory Usage.Total Size', 'Memory Usage.Total', 'Total Size', 'Total')
    models = (('S60', 24), ('L600', 48), ('L300', 24))  # unverified
    partition_kind = 'DRS partitions'
