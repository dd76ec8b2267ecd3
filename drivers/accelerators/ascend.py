"""``ascend``: Huawei Ascend NPUs through ``npu-smi``, with vNPU templates as hard partitions.

Inventory is the ``npu-smi info`` table (one two-line block per chip: NPU id, name, health,
power, temperature / chip id, bus id, AI-core use, memory, HBM); ``npu-smi info -m`` maps NPU
and chip ids to the logic id behind ``/dev/davinci<N>``.  vNPUs are made and destroyed with
``npu-smi set -t create-vnpu`` / ``destroy-vnpu`` and listed with ``npu-smi info -t info-vnpu``
(static vNPUs, which need the card in AVI container mode, set by an operator, never by us).
DCMI (``libdcmi.so``) would give the same through ctypes; the CLI is what every host has.
"""

from __future__ import annotations

import re

from pooling_drivers.accelerators import cli
from pooling_drivers.accelerators import errors
from pooling_drivers.accelerators import profiles
from pooling_drivers.accelerators.types import HealthCode
from pooling_drivers.accelerators.types import HealthReport
from pooling_drivers.accelerators.types import Partition

_NPU_ROW = re.compile(r'^(\d+)\s+(\S.*?)$')
_USAGE = re.compile(r'(\d+)\s*/\s*(\d+)')
_HEALTHY = ('OK', 'Warning')


def parse_info(text: str) -> tuple[str, list[dict[str, str]]]:
    """Parse ``npu-smi info``.

    :param text: the output.
    :returns: ``(npu-smi version, rows)``; a row has ``npu``, ``name``, ``health``, ``power``,
        ``temp``, ``chip``, ``bus``, ``aicore``, ``hbm_used``, ``hbm_total`` (MiB).
    """
    version, rows, pending = '', [], None
    for line in text.splitlines():
        if 'Process id' in line or 'Process name' in line:
            break
        match = re.search(r'Version:\s*(\S+)', line)
        if match:
            version = match.group(1)
        if not line.startswith('|'):
            continue
        cells = [cell.strip() for cell in line.strip().strip('|').split('|')]
        if len(cells) < 3:
            continue
        head = _NPU_ROW.match(cells[0])
        if head and not cli.pci_address(cells[1]):
            values = cells[2].split()
            pending = {'npu': head.group(1), 'name': head.group(2), 'health': cells[1],
                       'power': values[0] if values else '', 'temp': values[1] if len(values) > 1
                       else ''}
            continue
        if pending is not None and cells[0].isdigit() and cli.pci_address(cells[1]):
            usages = _USAGE.findall(cells[2])
            hbm = usages[-1] if usages else ('0', '0')
            rows.append({**pending, 'chip': cells[0], 'bus': cells[1],
                         'aicore': cells[2].split()[0], 'hbm_used': hbm[0], 'hbm_total': hbm[1]})
    return version, rows


def parse_mapping(text: str) -> dict[tuple[str, str], str]:
    """Parse ``npu-smi info -m``: (NPU id, chip id) → chip logic id.

    :param text: the output.
    :returns: the mapping; chips without a logic id (``-``, the MCU) are left out.
    """
    mapping = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[0].isdigit() and fields[1].isdigit() and fields[2].isdigit():
            mapping[(fields[0], fields[1])] = fields[2]
    return mapping


def parse_vnpus(text: str) -> list[dict[str, str]]:
    """Parse the vNPU rows of ``npu-smi info -t info-vnpu``.

    :param text: the output.
    :returns: ``[{"id", "template"}]``.
    """
    rows = []
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip('|').split('|')]
        if len(cells) >= 5 and cells[0].isdigit() and re.match(r'vir\d', cells[-1]):
            rows.append({'id': cells[0], 'template': cells[-1]})
    return rows


class AscendDriver(cli.CliDriver):
    """Ascend NPUs on this host."""

    name = 'ascend'
    vendor = 'ascend'
    tool = 'npu-smi'
    inventory = ('info',)
    # AI cores per chip, from HAMi's device-configmap.yaml.
    models = (('910B2', 24), ('910B3', 20), ('910B4', 20), ('910A', 30), ('910', 30),
              ('310P', 8))

    def parse(self, output):
        return parse_info(output)[1]

    def _mapping(self) -> dict[tuple[str, str], str]:
        try:
            return parse_mapping(self.run_tool('info', '-m'))
        except errors.DriverUnavailableError:
            return {}

    def discover(self):
        output = self.run_tool(*self.inventory)
        version, rows = parse_info(output)
        mapping = self._mapping()
        devices = []
        for row in rows:
            logic = int(mapping.get((row['npu'], row['chip']), row['npu']))
            model = row['name'] if row['name'].startswith('Ascend') else f'Ascend{row["name"]}'
            pci = cli.pci_address(row['bus'])
            healthy = row['health'] in _HEALTHY
            hard = bool(profiles.vnpu_profiles(model, 1))
            devices.append(self.device(
                uuid=self.stable_uuid('', pci or f'{row["npu"]}/{row["chip"]}'), model=model,
                pci=pci, memory_mb=cli.to_int(row['hbm_total']), index=logic,
                driver_version=version, healthy=healthy,
                reason='' if healthy else f'npu-smi health {row["health"]}',
                isolation=('hard', 'none') if hard else ('none',)))
        return devices

    def row_to_device(self, position, row):  # pragma: no cover - discover() is overridden
        raise NotImplementedError

    def _ids(self, device_uuid: str) -> tuple[str, str, object]:
        output = self.run_tool(*self.inventory)
        device = self._device(device_uuid)
        for row in parse_info(output)[1]:
            if cli.pci_address(row['bus']) == device.pci_address:
                return row['npu'], row['chip'], device
        raise errors.DeviceNotFoundError(f'npu-smi shows no NPU at {device.pci_address}')

    def health(self):
        reports = []
        for device in self.discover():
            codes: tuple[HealthCode, ...] = ()
            if not device.healthy:
                npu, chip, _dev = self._ids(device.uuid)
                try:
                    found = cli.parse_kv_blocks(
                        'NPU\n' + self.run_tool('info', '-t', 'health', '-i', npu, '-c', chip),
                        r'^NPU$')
                    code = (found[0] if found else {}).get('Error Code', '')
                    codes = tuple(HealthCode('npu-smi', c) for c in code.split()
                                  if c and c != 'NA')
                except errors.DriverUnavailableError:
                    pass
            reports.append(HealthReport(device.uuid, device.healthy, device.health_reason, codes))
        return reports

    def partition_profiles(self, device_uuid):
        device = self._device(device_uuid)
        return profiles.vnpu_profiles(device.model, device.compute_units)

    def partitions(self, device_uuid):
        npu, chip, device = self._ids(device_uuid)
        table = {p.name: p for p in self.partition_profiles(device_uuid)}
        found = []
        for row in parse_vnpus(self.run_tool('info', '-t', 'info-vnpu', '-i', npu, '-c', chip)):
            prof = table.get(row['template'])
            found.append(Partition(
                uuid=row['id'], device_uuid=device_uuid, profile=row['template'],
                memory_mb=prof.memory_mb if prof else 0,
                compute_units=prof.compute_units if prof else 0,
                device_nodes=(f'/dev/vdavinci{row["id"]}',) + device.device_nodes[1:],
                handle=(('npu', npu), ('chip', chip), ('vnpu', row['id']))))
        return found

    def create_partition(self, device_uuid, profile, *, memory_mb=None, compute_units=None):
        table = {p.name: p for p in self.partition_profiles(device_uuid)}
        if profile not in table:
            raise errors.NotSupportedError(
                f'NPU {device_uuid} has no vNPU template {profile!r}; has: {", ".join(table)}')
        npu, chip, _device = self._ids(device_uuid)
        before = {p.uuid for p in self.partitions(device_uuid)}
        result = self.seam.run([self.tool, 'set', '-t', 'create-vnpu', '-i', npu, '-c', chip,
                                '-f', profile])
        if result.rc != 0 or 'success' not in result.stdout.lower():
            message = (result.stdout + result.stderr).strip()
            if 'resource' in message.lower() or 'insufficient' in message.lower():
                raise errors.InsufficientCapacityError(f'create-vnpu {profile}: {message}')
            raise errors.DriverError(f'create-vnpu {profile} on NPU {npu}: {message}')
        made = [p for p in self.partitions(device_uuid) if p.uuid not in before]
        if not made:
            raise errors.DriverError(f'npu-smi made a {profile} vNPU but does not list it')
        return made[0]

    def destroy_partition(self, device_uuid, partition_uuid):
        parts = {p.uuid: p for p in self.partitions(device_uuid)}
        if partition_uuid not in parts:
            raise errors.PartitionNotFoundError(f'NPU {device_uuid} has no vNPU {partition_uuid}')
        handle = dict(parts[partition_uuid].handle)
        result = self.seam.run([self.tool, 'set', '-t', 'destroy-vnpu', '-i', handle['npu'],
                                '-c', handle['chip'], '-v', partition_uuid])
        if result.rc != 0:
            message = (result.stdout + result.stderr).strip()
            if 'use' in message.lower() or 'busy' in message.lower():
                raise errors.DeviceBusyError(f'vNPU {partition_uuid}: {message}')
            raise errors.DriverError(f'destroy-vnpu {partition_uuid}: {message}')
