"""The ``nvidia`` driver against nvidia-ml-py's own structures replaying a DGX H100 fixture."""

import pynvml
import pytest

from pooling.agent import slices
from pooling_drivers.accelerators import errors
from pooling_drivers.accelerators import nvidia
from pooling_drivers.accelerators.seam import RecordedSeam
from tests.unit.drivers import fake_nvml


@pytest.fixture
def nvml():
    return fake_nvml.FakeNvml(fake_nvml.load('dgx-h100.json'))


@pytest.fixture
def driver(nvml):
    return nvidia.NvidiaDriver(seam=RecordedSeam(libraries={'pynvml': nvml}))


def test_unavailable_without_the_binding_or_the_library(nvml):
    missing = nvidia.NvidiaDriver(seam=RecordedSeam())
    assert not missing.available().ok
    assert 'pynvml' in missing.available().reason
    nvml.fail_init = pynvml.NVML_ERROR_LIBRARY_NOT_FOUND
    no_lib = nvidia.NvidiaDriver(seam=RecordedSeam(libraries={'pynvml': nvml}))
    availability = no_lib.available()
    assert not availability.ok and 'NVML cannot start' in availability.reason


def test_discovery_maps_nvml_to_device_info(driver):
    assert driver.available().ok
    devices = driver.discover()
    assert len(devices) == 4
    mig, plain = devices[0], devices[1]
    assert plain.uuid == '8f1d2c3b-4a5e-6f70-8192-a3b4c5d6e7f8'  # GPU- prefix dropped
    assert (plain.vendor, plain.model) == ('nvidia', 'NVIDIA H100 80GB HBM3')
    assert plain.pci_address == '0000:2a:00.0'
    assert (plain.memory_mb, plain.compute_units, plain.numa_node) == (81559, 132, 0)
    assert plain.driver_version == '550.54.15'
    assert plain.isolation == ('firm', 'soft', 'none')
    assert plain.device_nodes[0] == '/dev/nvidia1'
    # MIG on: only hard isolation; SMs from the full profile when attributes are refused.
    assert mig.isolation == ('hard',) and mig.compute_units == 132
    assert devices[3].numa_node == 1


def test_xids_make_devices_unhealthy_except_application_ones(driver):
    devices = driver.discover()
    assert [d.healthy for d in devices] == [True, True, False, True]
    assert devices[2].health_reason == 'XID 79'
    reports = driver.health()
    assert reports[2].codes[0].source == 'xid' and reports[2].codes[0].code == '79'
    assert driver.discover()[2].healthy is False  # sticky


def test_ignored_xids_option(nvml):
    driver = nvidia.NvidiaDriver({'ignored_xids': '13,79'},
                                 seam=RecordedSeam(libraries={'pynvml': nvml}))
    assert all(d.healthy for d in driver.discover())


def test_lost_gpu_is_reported_unhealthy(nvml, driver):
    nvml.devices[1]['lost'] = True
    device = driver.discover()[1]
    assert not device.healthy and 'NVML error' in device.health_reason


def test_row_remapping_failure(nvml, driver):
    nvml.devices[3]['remapped_rows'] = [0, 2, 0, 1]
    assert 'row remapping' in driver.discover()[3].health_reason


def test_topology_nvswitch_numa_and_cpu_affinity(driver):
    devices = driver.discover()
    topo = driver.topology()
    assert topo.link(devices[0].uuid, devices[3].uuid).kind == 'nvlink'
    kinds = {lk.kind for lk in topo.links if {lk.a, lk.b} == {devices[0].uuid, devices[1].uuid}}
    assert kinds == {'nvlink', 'numa'}
    assert dict(topo.cpu_affinity)[devices[0].uuid] == '0-55,112-167'
    assert dict(topo.cpu_affinity)[devices[3].uuid] == '56-111,168-223'


def test_direct_nvlink_pairs(nvml, driver):
    for dev, peer in ((0, 1), (1, 0)):
        nvml.devices[dev]['nvlinks'] = [
            {'link': n, 'state': 1, 'remote_busId': nvml.devices[peer]['busId']}
            for n in range(4)]
    for dev in (2, 3):
        nvml.devices[dev]['nvlinks'] = []
    devices = driver.discover()
    link = driver.topology().link(devices[0].uuid, devices[1].uuid)
    assert (link.kind, link.count) == ('nvlink', 4)
    assert driver.topology().link(devices[0].uuid, devices[2].uuid).kind == 'system'


def test_utilisation(driver):
    sample = driver.utilisation()[0]
    assert (sample.compute_percent, sample.memory_used_mb, sample.memory_total_mb) == (
        37, 1552, 81559)
    assert sample.temperature_c == 31 and sample.power_w == pytest.approx(69.153)


def test_mig_profiles_and_existing_instances(driver):
    mig = driver.discover()[0].uuid
    profiles = driver.partition_profiles(mig)
    assert [p.name for p in profiles] == ['1g.10gb', '1g.10gb+me', '1g.20gb', '2g.20gb',
                                          '3g.40gb', '4g.40gb', '7g.80gb']
    assert [p.profile_id for p in profiles] == [19, 20, 15, 14, 9, 5, 0]
    assert profiles[4].memory_mb == 40448 and profiles[4].compute_units == 60
    assert profiles[4].compute_milli == 428 and profiles[4].placements == (0, 4)
    existing = driver.partitions(mig)
    assert [(p.uuid, p.profile) for p in existing] == [
        ('MIG-7b1c9e44-2f0a-5d63-9a3e-10c2b8f4d711', '2g.20gb')]
    assert driver.partition_profiles(driver.discover()[1].uuid) == []


def test_mig_create_and_destroy(nvml, driver):
    mig = driver.discover()[0].uuid
    part = driver.create_partition(mig, '3g.40gb')
    assert part.uuid.startswith('MIG-') and dict(part.handle)['placement'] == '4'
    with pytest.raises(errors.InsufficientCapacityError):
        driver.create_partition(mig, '3g.40gb')
    nvml.busy.add((0, int(dict(part.handle)['gi'])))
    with pytest.raises(errors.DeviceBusyError):
        driver.destroy_partition(mig, part.uuid)
    nvml.busy.clear()
    driver.destroy_partition(mig, part.uuid)
    assert len(driver.partitions(mig)) == 1
    with pytest.raises(errors.PartitionNotFoundError):
        driver.destroy_partition(mig, part.uuid)
    with pytest.raises(errors.NotSupportedError, match='no MIG profile'):
        driver.create_partition(mig, '5g.50gb')


def test_mig_is_never_enabled_by_us(driver):
    plain = driver.discover()[1].uuid
    with pytest.raises(errors.NotSupportedError, match='never changes MIG mode'):
        driver.create_partition(plain, '1g.10gb')


def test_mig_slice_through_the_preparer(driver):
    mig = driver.discover()[0]
    preparer = slices.SlicePreparer([driver], {})
    att = preparer.prepare('v1', {'index': 0, 'device_uuid': mig.uuid, 'compute_milli': 142,
                                  'memory_mb': 9000, 'isolation': 'hard', 'count': 1})
    assert att['plugin'] == 'mig' and att['partition']['profile'] == '1g.10gb'
    assert att['env']['CUDA_VISIBLE_DEVICES'] == att['visible_uuid']
    preparer.release('v1', {'index': 0, 'device_uuid': mig.uuid, 'isolation': 'hard'})
    assert len(driver.partitions(mig.uuid)) == 1


def test_close_is_idempotent(nvml, driver):
    driver.discover()
    driver.close()
    driver.close()
    assert not nvml.initialised


def test_helpers():
    assert nvidia.bus_id(b'00000000:AB:00.0') == '0000:ab:00.0'
    assert nvidia.cpu_list([0b1011]) == '0-1,3'
    assert nvidia.cpu_list([0]) == ''


def test_capture_script_round_trips_through_the_fixture_format(nvml, monkeypatch):
    import importlib.util
    import os
    path = os.path.join(fake_nvml.FIXTURES, 'capture_nvml.py')
    spec = importlib.util.spec_from_file_location('capture_nvml', path)
    capture = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(capture)
    monkeypatch.setattr(capture, 'nvml', nvml)
    data = capture.capture()
    assert data['gi_profiles'] and data['devices'][0]['busId'] == '00000000:18:00.0'
    data['ci_profiles'] = nvml.data['ci_profiles']
    replay = fake_nvml.FakeNvml(data)
    again = nvidia.NvidiaDriver(seam=RecordedSeam(libraries={'pynvml': replay})).discover()
    original = nvidia.NvidiaDriver(seam=RecordedSeam(
        libraries={'pynvml': fake_nvml.FakeNvml(fake_nvml.load('dgx-h100.json'))})).discover()
    assert [d.uuid for d in again] == [d.uuid for d in original]
    assert [d.memory_mb for d in again] == [d.memory_mb for d in original]
