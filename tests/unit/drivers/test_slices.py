"""Preparing and releasing slices with the isolation plugins, through the agent's preparer."""

import pytest

from pooling.agent import slices
from pooling_drivers.accelerators.errors import SeamError
from pooling_drivers.accelerators.seam import CommandResult
from pooling_drivers.accelerators.seam import RecordedSeam
from pooling_drivers.accelerators.sim import SimDriver
from pooling_drivers.isolation import base as iso

SPEC = ('nvidia:H200:144384:132:1,nvidia:T4:15360:40:1,ascend:Ascend910B3:65536:20:1,'
        'hygon:K100-AI:65536:120:1,metax:C500:65536:104:1')


@pytest.fixture
def seam():
    return RecordedSeam(commands={
        'nvidia-cuda-mps-control -d': CommandResult(0),
        'nvidia-cuda-mps-control': CommandResult(0),
    })


@pytest.fixture
def driver(seam):
    return SimDriver({'host': 'h', 'devices': SPEC, 'health_file': '/health.json'}, seam=seam)


@pytest.fixture
def devices(driver):
    return driver.discover()


def make_preparer(driver, seam, **options):
    return slices.SlicePreparer([driver], {'hami': {'preload_library': '/opt/libvgpu.so'},
                                           **options}, seam=seam)


def a_slice(device, isolation, milli=250, memory=8192, index=0):
    return {'index': index, 'device_uuid': device.uuid, 'compute_milli': milli,
            'memory_mb': memory, 'isolation': isolation, 'count': 1}


def test_none_gives_the_whole_device(driver, seam, devices):
    att = make_preparer(driver, seam).prepare('v1', a_slice(devices[0], None))
    assert att['plugin'] == 'none' and att['isolation'] == 'none'
    assert att['env'] == {'CUDA_VISIBLE_DEVICES': f'GPU-{devices[0].uuid}',
                          'NVIDIA_VISIBLE_DEVICES': f'GPU-{devices[0].uuid}'}
    assert att['devices'][0] == '/dev/nvidia0' and att['mounts'] == []
    assert att['device_uuid'] == devices[0].uuid


def test_hami_sets_soft_limits(driver, seam, devices):
    seam.files['/var/lib/pooling/vgpu/v1-0.cache'] = 'stale'
    att = make_preparer(driver, seam).prepare('v1', a_slice(devices[1], 'soft', 333, 4096))
    assert att['plugin'] == 'hami'
    env = att['env']
    assert env['CUDA_DEVICE_MEMORY_LIMIT_0'] == '4096m'
    assert env['CUDA_DEVICE_SM_LIMIT'] == '34'
    assert env['LD_PRELOAD'] == '/opt/libvgpu.so'
    assert '/var/lib/pooling/vgpu/v1-0.cache' not in seam.files
    assert {m['host'] for m in att['mounts']} >= {'/opt/libvgpu.so', '/tmp/vgpulock'}


def test_mps_starts_one_daemon_per_card_and_stops_after_the_last(driver, seam, devices):
    preparer = make_preparer(driver, seam)
    first = preparer.prepare('v1', a_slice(devices[1], 'firm', 500, 6000))
    assert first['env']['CUDA_MPS_ACTIVE_THREAD_PERCENTAGE'] == '50'
    assert first['env']['CUDA_MPS_PINNED_DEVICE_MEM_LIMIT'] == '0=6000M'
    pipe = first['env']['CUDA_MPS_PIPE_DIRECTORY']
    assert pipe == f'/var/run/pooling/mps/{devices[1].uuid}/pipe'
    assert seam.calls[0][0] == 'nvidia-cuda-mps-control -d'
    assert seam.calls[0][2]['CUDA_VISIBLE_DEVICES'] == f'GPU-{devices[1].uuid}'
    seam.files[pipe + '/control'] = ''  # the daemon made its control socket
    preparer.prepare('v2', a_slice(devices[1], 'firm'))
    assert len(seam.calls) == 1
    preparer.release('v1', a_slice(devices[1], 'firm'))
    assert len(seam.calls) == 1
    preparer.release('v2', a_slice(devices[1], 'firm'))
    assert seam.calls[-1][:2] == ('nvidia-cuda-mps-control', 'quit\n')


def test_mig_creates_the_smallest_fitting_instance_and_release_is_idempotent(
        driver, seam, devices):
    preparer = make_preparer(driver, seam)
    h200 = devices[0]
    att = preparer.prepare('v1', a_slice(h200, 'hard', 285, 30000))
    assert att['plugin'] == 'mig' and att['partition']['profile'] == '2g.35gb'
    assert att['visible_uuid'].startswith('MIG-')
    assert att['env']['CUDA_VISIBLE_DEVICES'] == att['visible_uuid']
    assert len(driver.partitions(h200.uuid)) == 1
    assert preparer.prepare('v1', a_slice(h200, 'hard', 285, 30000)) == att  # retried RPC
    assert len(driver.partitions(h200.uuid)) == 1
    preparer.release('v1', a_slice(h200, 'hard'))
    assert driver.partitions(h200.uuid) == []
    preparer.release('v1', a_slice(h200, 'hard'))
    preparer.release('never-prepared', a_slice(h200, 'hard'))


def test_mig_without_a_fitting_profile(driver, seam, devices):
    with pytest.raises(iso.NoFittingProfileError, match='1g.18gb'):
        make_preparer(driver, seam).prepare('v1', a_slice(devices[0], 'hard', 100, 200000))


def test_ascend_vnpu_and_hygon_vdcu(driver, seam, devices):
    preparer = make_preparer(driver, seam)
    npu = preparer.prepare('v1', a_slice(devices[2], 'hard', 250, 16384))
    assert npu['plugin'] == 'ascend-vnpu' and npu['partition']['profile'] == 'vir05_1c_16g'
    assert npu['env'] == {'ASCEND_VISIBLE_DEVICES': npu['partition']['uuid']}
    assert npu['devices'][0].startswith('/dev/vdavinci')
    dcu = preparer.prepare('v2', a_slice(devices[3], 'hard', 250, 8192))
    assert dcu['plugin'] == 'hygon-vdcu'
    assert (dcu['partition']['memory_mb'], dcu['partition']['compute_units']) == (8192, 30)
    assert dcu['mounts'][0]['container'] == '/etc/vdev/vdev0.conf'
    preparer.release('v1', a_slice(devices[2], 'hard'))
    preparer.release('v2', a_slice(devices[3], 'hard'))
    assert driver.partitions(devices[2].uuid) == driver.partitions(devices[3].uuid) == []


def test_unsupported_level_is_refused(driver, seam, devices):
    preparer = make_preparer(driver, seam)
    with pytest.raises(iso.IsolationNotSupportedError, match="'hard'.*supports firm"):
        preparer.prepare('v1', a_slice(devices[1], 'hard'))
    with pytest.raises(iso.IsolationNotSupportedError, match='supports none'):
        preparer.prepare('v1', a_slice(devices[4], 'soft'))


def test_unhealthy_or_unknown_devices_take_no_slice(driver, seam, devices):
    preparer = make_preparer(driver, seam)
    seam.files['/health.json'] = '{"0": "XID 48: double-bit ECC"}'
    with pytest.raises(slices.DeviceUnhealthyError, match='XID 48'):
        preparer.prepare('v1', a_slice(devices[0], 'none'))
    with pytest.raises(slices.DeviceUnknownError):
        preparer.prepare('v1', {'device_uuid': 'nope', 'isolation': 'none'})
    with pytest.raises(ValueError, match='device_uuid'):
        preparer.prepare('v1', {'isolation': 'none'})


def test_plugin_override_by_vendor_and_level(driver, seam, devices):
    preparer = make_preparer(driver, seam, plugins={'nvidia:soft': 'none'})
    assert preparer.prepare('v1', a_slice(devices[1], 'soft'))['plugin'] == 'none'
    preparer = make_preparer(driver, seam, plugins={'soft': 'nonexistent'})
    with pytest.raises(iso.IsolationNotSupportedError, match='nonexistent'):
        preparer.prepare('v1', a_slice(devices[1], 'soft'))


def test_release_after_restart_uses_the_state_dir(driver, seam, devices, tmp_path):
    preparer = make_preparer(driver, seam, state_dir=str(tmp_path))
    preparer.prepare('v1', a_slice(devices[0], 'hard', 142, 10000))
    assert len(list(tmp_path.iterdir())) == 1
    restarted = make_preparer(driver, seam, state_dir=str(tmp_path))
    restarted.release('v1', a_slice(devices[0], 'hard'))
    assert driver.partitions(devices[0].uuid) == []
    assert list(tmp_path.iterdir()) == []


def test_release_with_the_attachment_from_the_conductor(driver, seam, devices):
    att = make_preparer(driver, seam).prepare('v1', a_slice(devices[0], 'hard', 142, 10000))
    stranger = make_preparer(driver, seam)
    stranger.release('v1', {**a_slice(devices[0], 'hard'), 'attachment': att})
    assert driver.partitions(devices[0].uuid) == []


def test_release_never_raises_for_gone_devices_or_partitions(driver, seam, devices):
    preparer = make_preparer(driver, seam)
    att = preparer.prepare('v1', a_slice(devices[0], 'hard', 142, 10000))
    driver.destroy_partition(devices[0].uuid, att['visible_uuid'])
    preparer.release('v1', a_slice(devices[0], 'hard'))
    other = slices.SlicePreparer([], {}, seam=seam)
    other.release('v1', {**a_slice(devices[0], 'hard'), 'attachment': att})
    other.release('v1', {'garbage': True})


def test_mps_daemon_survives_an_agent_restart(driver, seam, devices, tmp_path):
    preparer = make_preparer(driver, seam, state_dir=str(tmp_path))
    first = preparer.prepare('v1', a_slice(devices[1], 'firm'))
    seam.files[first['env']['CUDA_MPS_PIPE_DIRECTORY'] + '/control'] = ''
    preparer.prepare('v2', a_slice(devices[1], 'firm'))
    restarted = make_preparer(driver, seam, state_dir=str(tmp_path))
    restarted.release('v1', a_slice(devices[1], 'firm'))
    assert not any(call[1] == 'quit\n' for call in seam.calls)  # v2 still uses the daemon
    restarted.release('v2', a_slice(devices[1], 'firm'))
    assert seam.calls[-1][1] == 'quit\n'


def test_mps_daemon_that_fails_to_start(driver, seam, devices):
    seam.commands['nvidia-cuda-mps-control -d'] = CommandResult(1, '', 'permission denied')
    with pytest.raises(SeamError, match='permission denied'):
        make_preparer(driver, seam).prepare('v1', a_slice(devices[1], 'firm'))


def test_hami_core_policy_and_release(driver, seam, devices):
    preparer = make_preparer(driver, seam, hami={'core_policy': 'force',
                                                 'cache_dir': '/run/vgpu'})
    att = preparer.prepare('v1', a_slice(devices[1], 'soft'))
    assert att['env']['GPU_CORE_UTILIZATION_POLICY'] == 'force'
    assert att['env']['CUDA_DEVICE_MEMORY_SHARED_CACHE'] == '/run/vgpu/v1-0.cache'
    seam.files['/run/vgpu/v1-0.cache'] = 'limits'
    preparer.release('v1', a_slice(devices[1], 'soft'))
    assert '/run/vgpu/v1-0.cache' not in seam.files
    preparer.release('v1', a_slice(devices[1], 'soft'))


def test_slices_of_several_cards_are_independent(driver, seam, devices):
    preparer = make_preparer(driver, seam)
    a = preparer.prepare('v1', a_slice(devices[0], 'none', index=0))
    b = preparer.prepare('v1', a_slice(devices[1], 'none', index=1))
    assert a['device_uuid'] != b['device_uuid']
    preparer.release('v1', a_slice(devices[0], 'none', index=0))
    assert preparer.prepare('v1', a_slice(devices[1], 'none', index=1)) == b
