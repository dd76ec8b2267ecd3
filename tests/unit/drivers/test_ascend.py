"""The ``ascend`` driver against recorded ``npu-smi`` outputs (sources in the fixture)."""

import json
import os

import pytest

from pooling.agent import slices
from pooling_drivers.accelerators import ascend
from pooling_drivers.accelerators import errors
from pooling_drivers.accelerators.seam import CommandResult
from pooling_drivers.accelerators.seam import RecordedSeam

FIXTURE = os.path.join(os.path.dirname(__file__), '..', '..', 'fixtures', 'drivers', 'ascend',
                       'npu-smi-910b3.json')


@pytest.fixture
def data():
    with open(FIXTURE, encoding='utf-8') as handle:
        return json.load(handle)


@pytest.fixture
def seam(data):
    return RecordedSeam(commands=data['commands'], files={
        '/etc/machine-id': 'b08dfa6083e7567a1921a715000001fb\n',
        '/sys/bus/pci/devices/0000:c1:00.0/numa_node': '2\n'})


@pytest.fixture
def driver(seam):
    return ascend.AscendDriver(seam=seam)


def test_parse_info(data):
    version, rows = ascend.parse_info(data['commands']['npu-smi info'])
    assert version == '24.1.rc1'
    assert [(r['npu'], r['name'], r['health'], r['bus']) for r in rows] == [
        ('0', '910B3', 'OK', '0000:C1:00.0'), ('1', '910B3', 'Critical', '0000:C2:00.0')]
    assert (rows[0]['hbm_used'], rows[0]['hbm_total'], rows[0]['temp']) == ('3525', '65536', '52')


def test_discover(driver):
    assert driver.available().ok
    devices = driver.discover()
    first, second = devices
    assert (first.vendor, first.model, first.memory_mb, first.compute_units) == (
        'ascend', 'Ascend910B3', 65536, 20)
    assert (first.pci_address, first.numa_node, first.driver_version) == (
        '0000:c1:00.0', 2, '24.1.rc1')
    assert first.isolation == ('hard', 'none') and first.device_nodes[0] == '/dev/davinci0'
    assert not second.healthy and second.health_reason == 'npu-smi health Critical'
    assert second.index == 1 and second.numa_node is None
    assert first.uuid == ascend.AscendDriver(seam=driver.seam).discover()[0].uuid
    assert first.uuid != second.uuid


def test_health_codes(driver):
    reports = driver.health()
    assert reports[0].healthy and reports[0].codes == ()
    assert [c.code for c in reports[1].codes] == ['80E01801', '80CB8009']


def test_unavailable_without_npu_smi():
    availability = ascend.AscendDriver(seam=RecordedSeam()).available()
    assert not availability.ok and 'npu-smi not found' in availability.reason


def test_vnpu_create_list_destroy(data, seam, driver):
    uuid = driver.discover()[0].uuid
    assert [p.name for p in driver.partition_profiles(uuid)] == ['vir05_1c_16g', 'vir10_3c_32g']
    assert driver.partitions(uuid) == []
    create = 'npu-smi set -t create-vnpu -i 0 -c 0 -f vir05_1c_16g'
    seam.commands[create] = CommandResult(0, data['create_ok'])

    real_run = seam.run

    def run(argv, **kwargs):
        result = real_run(argv, **kwargs)
        if ' '.join(argv) == create:
            seam.commands.update({k: CommandResult(0, v) for k, v in data['after_create'].items()})
        return result

    seam.run = run
    part = driver.create_partition(uuid, 'vir05_1c_16g')
    assert (part.uuid, part.memory_mb, part.compute_units) == ('100', 16384, 5)
    assert part.device_nodes[0] == '/dev/vdavinci100'
    seam.commands['npu-smi set -t destroy-vnpu -i 0 -c 0 -v 100'] = CommandResult(0, 'OK')
    driver.destroy_partition(uuid, '100')
    assert seam.calls[-1][0] == 'npu-smi set -t destroy-vnpu -i 0 -c 0 -v 100'
    with pytest.raises(errors.PartitionNotFoundError):
        driver.destroy_partition(uuid, '999')
    with pytest.raises(errors.NotSupportedError):
        driver.create_partition(uuid, 'vir99')


def test_create_failure_is_typed(seam, driver):
    uuid = driver.discover()[0].uuid
    seam.commands['npu-smi set -t create-vnpu -i 0 -c 0 -f vir10_3c_32g'] = CommandResult(
        1, 'Status : FAILED\nMessage : The resource is insufficient.')
    with pytest.raises(errors.InsufficientCapacityError):
        driver.create_partition(uuid, 'vir10_3c_32g')


def test_vnpu_slice_through_the_preparer(data, seam, driver):
    uuid = driver.discover()[0].uuid
    seam.commands['npu-smi set -t create-vnpu -i 0 -c 0 -f vir05_1c_16g'] = CommandResult(
        0, data['create_ok'])
    seam.commands.update({k: CommandResult(0, v) for k, v in data['after_create'].items()})
    seam.commands['npu-smi info -t info-vnpu -i 0 -c 0'] = CommandResult(
        0, data['commands']['npu-smi info -t info-vnpu -i 0 -c 0'])
    preparer = slices.SlicePreparer([driver], {})
    original = seam.commands.copy()

    def run(argv, **kwargs):
        key = ' '.join(argv)
        seam.calls.append((key, None, {}))
        if key.startswith('npu-smi set -t create-vnpu'):
            seam.commands.update({k: CommandResult(0, v) for k, v in data['after_create'].items()})
        return seam.commands.get(key) or original[key]

    seam.run = run
    att = preparer.prepare('v1', {'index': 0, 'device_uuid': uuid, 'compute_milli': 250,
                                  'memory_mb': 16000, 'isolation': 'hard'})
    assert att['plugin'] == 'ascend-vnpu'
    assert att['env'] == {'ASCEND_VISIBLE_DEVICES': '100'}
