"""The sim driver: spec parsing, stable identities, runtime health, partitions, topology."""

import json

import pytest

from pooling_drivers.accelerators import errors
from pooling_drivers.accelerators import sim
from pooling_drivers.accelerators.seam import RecordedSeam
from pooling_drivers.accelerators.types import DeviceInfo

MIXED = 'nvidia:A100-SXM4-80GB:81920:108:4,ascend:Ascend910B3:65536:20:2'


def make(devices=MIXED, **options):
    return sim.SimDriver({'host': 'node-1', 'devices': devices, **options})


def test_mixed_vendors_are_discovered_in_spec_order():
    devices = make().discover()
    assert [d.vendor for d in devices] == ['nvidia'] * 4 + ['ascend'] * 2
    assert all(isinstance(d, DeviceInfo) for d in devices)
    first = devices[0]
    assert (first.model, first.memory_mb, first.compute_units) == ('A100-SXM4-80GB', 81920, 108)
    assert first.isolation == ('hard', 'firm', 'soft', 'none')
    assert devices[4].isolation == ('hard', 'none')
    assert devices[4].device_nodes[0] == '/dev/davinci4'
    assert [d.index for d in devices] == list(range(6))
    assert {d.numa_node for d in devices[:3]} == {0} and devices[5].numa_node == 1


def test_identities_are_stable_per_host_and_differ_between_hosts():
    a, b, other = make().discover(), make().discover(), make(host='node-2').discover()
    assert [d.uuid for d in a] == [d.uuid for d in b]
    assert len({d.uuid for d in a}) == 6
    assert len({d.pci_address for d in a}) == 6
    assert {d.uuid for d in other}.isdisjoint(d.uuid for d in a)
    assert other[0].pci_address != a[0].pci_address


def test_default_spec_is_used_when_none_given():
    devices = sim.SimDriver().discover()
    assert len(devices) == 2 and devices[0].vendor == 'nvidia'


@pytest.mark.parametrize('spec, fragment', [
    ('', 'empty'),
    ('nvidia:A100:81920:108', 'got 4 fields'),
    ('amd:MI300:1:1:1', "unknown vendor 'amd'"),
    ('nvidia:A100:lots:108:1', "memory_mb must be a positive integer, got 'lots'"),
    ('nvidia:A100:81920:0:1', 'compute_units'),
    ('nvidia:A100:81920:108:-1', 'count'),
    ('nvidia::81920:108:1', 'empty model'),
    ('nvidia:A100:81920:108:1:strong', 'isolation'),
])
def test_bad_spec_names_the_bad_part(spec, fragment):
    with pytest.raises(ValueError, match=fragment) as info:
        if spec:
            sim.SimDriver({'devices': f'ascend:Ascend910B3:65536:20:1,{spec}'})
        else:
            sim.parse_devices(spec)
    assert repr(spec) in str(info.value) or not spec


def test_isolation_override_and_plain_vendors():
    devices = make('cambricon:MLU370-X8:49152:64:1,nvidia:T4:15360:40:1:soft+none').discover()
    assert devices[0].isolation == ('none',)
    assert devices[1].isolation == ('soft', 'none')
    t4 = make('nvidia:T4:15360:40:1').discover()[0]
    assert t4.isolation == ('firm', 'soft', 'none')


def test_health_file_is_reread_at_every_discovery():
    seam = RecordedSeam()
    driver = sim.SimDriver({'devices': MIXED, 'health_file': '/h.json'}, seam=seam)
    assert all(d.healthy for d in driver.discover())
    uuid = driver.discover()[1].uuid
    seam.files['/h.json'] = json.dumps({uuid: 'XID 79: fallen off the bus', '5': 'HBM ECC'})
    devices = driver.discover()
    assert [d.healthy for d in devices] == [True, False, True, True, True, False]
    assert devices[1].health_reason == 'XID 79: fallen off the bus'
    assert [r.healthy for r in driver.health()] == [True, False, True, True, True, False]
    seam.files['/h.json'] = '{"1": "half-writ'
    assert not driver.discover()[1].healthy  # unreadable: last good state kept
    seam.files['/h.json'] = '{}'
    assert all(d.healthy for d in driver.discover())


def test_health_file_on_disk(tmp_path):
    path = tmp_path / 'health.json'
    driver = make(health_file=str(path))
    assert all(d.healthy for d in driver.discover())
    path.write_text(json.dumps({'0': 'lost'}))
    assert driver.discover()[0].health_reason == 'lost'


def test_unavailable_option():
    assert make().available().ok
    availability = make(unavailable='npu-smi not found').available()
    assert (availability.ok, availability.reason) == (False, 'npu-smi not found')


def test_mig_partitions_follow_placements_and_instance_limits():
    driver = make('nvidia:H200:144384:132:1')
    uuid = driver.discover()[0].uuid
    names = [p.name for p in driver.partition_profiles(uuid)]
    assert names == ['1g.18gb', '1g.35gb', '2g.35gb', '3g.71gb', '4g.71gb', '7g.141gb']
    big = driver.create_partition(uuid, '4g.71gb')
    assert big.uuid.startswith('MIG-') and big.memory_mb == 72704
    three = driver.create_partition(uuid, '3g.71gb')
    assert dict(three.handle)['placement'] == '4'
    with pytest.raises(errors.InsufficientCapacityError):
        driver.create_partition(uuid, '1g.18gb')
    driver.destroy_partition(uuid, big.uuid)
    assert [p.profile for p in driver.partitions(uuid)] == ['3g.71gb']
    with pytest.raises(errors.PartitionNotFoundError):
        driver.destroy_partition(uuid, big.uuid)
    with pytest.raises(errors.NotSupportedError, match='no profile'):
        driver.create_partition(uuid, '9g.1tb')
    assert driver.utilisation()[0].memory_used_mb == 72704


def test_vnpu_and_vdcu_capacity():
    driver = make('ascend:Ascend910B3:65536:20:1,hygon:K100-AI:65536:120:1')
    npu, dcu = (d.uuid for d in driver.discover())
    parts = [driver.create_partition(npu, 'vir10_3c_32g') for _ in range(2)]
    assert [p.uuid for p in parts] == ['101', '102']
    assert parts[0].device_nodes[0] == '/dev/vdavinci101'
    with pytest.raises(errors.InsufficientCapacityError):
        driver.create_partition(npu, 'vir05_1c_16g')
    vdcu = driver.create_partition(dcu, 'vdcu', memory_mb=16384, compute_units=30)
    assert (vdcu.memory_mb, vdcu.compute_units) == (16384, 30)
    with pytest.raises(errors.InsufficientCapacityError):
        driver.create_partition(dcu, 'vdcu', memory_mb=65536, compute_units=30)


def test_no_partitions_on_plain_devices():
    driver = make('metax:C500:65536:104:1')
    uuid = driver.discover()[0].uuid
    assert driver.partition_profiles(uuid) == []
    with pytest.raises(errors.NotSupportedError):
        driver.create_partition(uuid, 'anything')
    with pytest.raises(errors.DeviceNotFoundError):
        driver.partitions('nope')


def test_topology_links_same_vendor_by_numa():
    driver = make()
    devices = driver.discover()
    topo = driver.topology()
    assert topo.link(devices[0].uuid, devices[1].uuid).kind == 'nvlink'
    assert topo.link(devices[0].uuid, devices[3].uuid).kind == 'system'
    assert topo.link(devices[0].uuid, devices[4].uuid) is None
    assert dict(topo.numa)[devices[5].uuid] == 1
