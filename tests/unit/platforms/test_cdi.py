"""The cdi platform: specs against the CDI JSON schema and our own rules, files on disk."""

import copy
import json
import os
import stat

import pytest

from pooling_drivers.platforms import base
from pooling_drivers.platforms import cdi
from tests.unit.platforms import cdi_schema

UUID = 'c0ffee00-1111-4222-8333-444455556666'
LETTER_UUID = 'f00dbabe-1111-4222-8333-444455556666'


def local_vgpu(uuid=UUID, slices=1, isolation='soft'):
    rows, atts = [], []
    for i in range(slices):
        rows.append({'index': i, 'device_uuid': f'GPU-{i}', 'host': 'h1',
                     'compute_milli': 250, 'memory_mb': 4096})
        atts.append({'device_uuid': f'GPU-{i}', 'isolation': isolation, 'plugin': 'hami',
                     'visible_uuid': f'GPU-{i}',
                     'env': {'CUDA_VISIBLE_DEVICES': f'GPU-{i}',
                             'NVIDIA_VISIBLE_DEVICES': f'GPU-{i}',
                             'CUDA_DEVICE_MEMORY_LIMIT_0': '4096m',
                             'CUDA_DEVICE_SM_LIMIT': '25', 'LD_PRELOAD': '/usr/lib/libvgpu.so'},
                     'devices': [f'/dev/nvidia{i}', '/dev/nvidiactl'],
                     'mounts': [{'host': '/usr/lib/libvgpu.so',
                                 'container': '/usr/lib/libvgpu.so', 'readonly': True},
                                {'host': '/tmp/vgpulock', 'container': '/tmp/vgpulock',
                                 'readonly': False}]})
    return {'uuid': uuid, 'project_id': 'p', 'isolation': isolation,
            'consumer': {'platform': 'container', 'host': 'h1', 'id': 'web'},
            'slices': rows, 'attachment': {'slices': atts, 'remote': None}}


def remote_vgpu(uuid=LETTER_UUID):
    data = local_vgpu(uuid)
    data['consumer']['host'] = 'h2'
    data['attachment']['remote'] = {'protocol': 'sim', 'endpoints': ['h1:14833'],
                                    'token': 'tok-secret'}
    return data


@pytest.fixture
def driver(tmp_path):
    return cdi.CdiPlatform({'spec_dir': str(tmp_path / 'cdi'),
                            'lease_dir': str(tmp_path / 'leases'),
                            'mounts': '/opt/pooling/bin/pooling:/usr/local/bin/pooling'})


schema_needed = pytest.mark.skipif(
    not cdi_schema.available(),
    reason=f'CDI schema not installed at {cdi_schema.SCHEMA_DIR} (tools/ci-deps.sh installs it)')


@schema_needed
@pytest.mark.parametrize('make', [local_vgpu, remote_vgpu,
                                  lambda: local_vgpu(slices=2, isolation='firm')])
def test_spec_passes_the_cdi_schema_and_our_rules(driver, make):
    spec = driver.build_spec(base.PlatformRequest.from_vgpu(make()))
    errors = list(cdi_schema.validator().iter_errors(spec))
    assert errors == []
    cdi.check_spec(spec)


@schema_needed
def test_schema_catches_a_broken_spec(driver):
    """The schema check can fail: a device node without a path is refused."""
    spec = driver.build_spec(base.PlatformRequest.from_vgpu(local_vgpu()))
    del spec['devices'][0]['containerEdits']['deviceNodes'][0]['path']
    assert list(cdi_schema.validator().iter_errors(spec))


def test_local_spec_contents(driver):
    spec = driver.build_spec(base.PlatformRequest.from_vgpu(local_vgpu()))
    assert spec['kind'] == 'pooling.openstack.org/vgpu'
    # hostPath needs 0.5.0, nothing needs more.
    assert spec['cdiVersion'] == '0.5.0'
    (dev,) = spec['devices']
    assert dev['name'] == UUID
    edits = dev['containerEdits']
    assert {'path': '/dev/nvidia0', 'hostPath': '/dev/nvidia0'} in edits['deviceNodes']
    assert f'POOLING_VGPU_UUID={UUID}' in edits['env']
    assert 'CUDA_DEVICE_MEMORY_LIMIT_0=4096m' in edits['env']
    paths = [m['containerPath'] for m in edits['mounts']]
    assert paths == ['/usr/local/bin/pooling', '/usr/lib/libvgpu.so', '/tmp/vgpulock']
    assert edits['mounts'][2]['options'][0] == 'rw'


def test_multi_card_env_is_joined_and_renumbered(driver):
    spec = driver.build_spec(base.PlatformRequest.from_vgpu(local_vgpu(slices=2)))
    env = spec['devices'][0]['containerEdits']['env']
    assert 'CUDA_VISIBLE_DEVICES=GPU-0,GPU-1' in env
    assert 'CUDA_DEVICE_MEMORY_LIMIT_0=4096m' in env and 'CUDA_DEVICE_MEMORY_LIMIT_1=4096m' in env
    nodes = [n['path'] for n in spec['devices'][0]['containerEdits']['deviceNodes']]
    assert nodes == ['/dev/nvidia0', '/dev/nvidiactl', '/dev/nvidia1']


def test_conflicting_slice_env_is_refused(driver):
    data = local_vgpu(slices=2)
    data['attachment']['slices'][1]['env']['LD_PRELOAD'] = '/other.so'
    with pytest.raises(base.InvalidRequestError, match='LD_PRELOAD'):
        driver.build_spec(base.PlatformRequest.from_vgpu(data))


def test_remote_spec_has_no_device_node_and_mounts_the_lease(driver):
    spec = driver.build_spec(base.PlatformRequest.from_vgpu(remote_vgpu()))
    edits = spec['devices'][0]['containerEdits']
    assert 'deviceNodes' not in edits
    assert 'POOLING_LEASE_FILE=/etc/pooling/lease.json' in edits['env']
    assert not any(e.startswith('CUDA_VISIBLE_DEVICES') for e in edits['env'])
    lease = [m for m in edits['mounts'] if m['containerPath'] == '/etc/pooling/lease.json']
    assert lease[0]['options'][0] == 'ro'
    # Nothing here needs more than the first version (the uuid starts with a letter).
    assert spec['cdiVersion'] == '0.3.0'
    assert 'tok-secret' not in json.dumps(spec)


def test_lowest_version_rules():
    spec = {'cdiVersion': '0.3.0', 'kind': 'a.b/c', 'devices': [
        {'name': 'x', 'containerEdits': {'env': ['A=1']}}]}
    assert cdi.required_version(spec) == '0.3.0'
    s = copy.deepcopy(spec)
    s['devices'][0]['containerEdits']['mounts'] = [
        {'hostPath': '/a', 'containerPath': '/a', 'type': 'bind'}]
    assert cdi.required_version(s) == '0.4.0'
    s = copy.deepcopy(spec)
    s['devices'][0]['name'] = '0x'
    assert cdi.required_version(s) == '0.5.0'
    s = copy.deepcopy(spec)
    s['annotations'] = {'a': 'b'}
    assert cdi.required_version(s) == '0.6.0'
    s = copy.deepcopy(spec)
    s['containerEdits'] = {'additionalGids': [5]}
    assert cdi.required_version(s) == '0.7.0'
    s['containerEdits']['netDevices'] = [{'hostInterfaceName': 'e', 'name': 'e'}]
    assert cdi.required_version(s) == '1.1.0'


@pytest.mark.parametrize('mutate, message', [
    (lambda s: s.update(cdiVersion='0.3.0'), 'lower than 0.5.0'),
    (lambda s: s.update(cdiVersion='9.9.9'), 'unknown cdiVersion'),
    (lambda s: s.update(kind='no-class'), 'bad kind'),
    (lambda s: s.update(kind='bad_vendor!/x'), 'bad kind'),
    (lambda s: s['devices'][0].update(name='-x'), 'bad device name'),
    (lambda s: s['devices'].append(copy.deepcopy(s['devices'][0])), 'twice'),
    (lambda s: s['devices'][0]['containerEdits']['env'].append('=x'), 'NAME=value'),
    (lambda s: s['devices'][0]['containerEdits']['deviceNodes'][0].update(hostPath='dev/x'),
     'not absolute'),
    (lambda s: s.update(containerEdits={'hooks': [{'hookName': 'createContainer',
                                                   'path': 'hook'}]}), 'not absolute'),
    (lambda s: s.update(containerEdits={'hooks': [{'hookName': 'nope', 'path': '/h'}]}),
     'unknown hook'),
])
def test_our_rules_refuse_what_runtimes_would_skip(driver, mutate, message):
    spec = driver.build_spec(base.PlatformRequest.from_vgpu(local_vgpu()))
    mutate(spec)
    with pytest.raises(cdi.CdiSpecError, match=message):
        cdi.check_spec(spec)


def test_attach_writes_one_file_and_detach_removes_it(driver):
    req = base.PlatformRequest.from_vgpu(remote_vgpu())
    att = driver.attach(req)
    assert att.handle == f'pooling.openstack.org/vgpu={LETTER_UUID}'
    assert driver.attached() == [LETTER_UUID]
    with open(att.details['spec']) as f:
        assert json.load(f) == driver.build_spec(req)
    lease = att.details['lease']
    assert stat.S_IMODE(os.stat(lease).st_mode) == 0o600
    with open(lease) as f:
        assert json.load(f)['token'] == 'tok-secret'
    assert driver.attach(req) == att
    assert sorted(os.listdir(driver.spec_dir)) == [cdi.spec_file_name(LETTER_UUID)]
    driver.detach(req, att)
    driver.detach(req, None)
    assert driver.attached() == [] and not os.path.exists(lease)


def test_reconcile_removes_strays_and_rewrites(driver):
    keep = base.PlatformRequest.from_vgpu(local_vgpu())
    gone = base.PlatformRequest.from_vgpu(remote_vgpu())
    driver.attach(gone)
    with open(driver.spec_path(UUID), 'w') as f:
        f.write('{broken')
    drifts = {d.vgpu_uuid: d for d in driver.reconcile([keep])}
    assert drifts[LETTER_UUID].action == 'repaired'
    assert 'unreadable' in drifts[UUID].problem
    assert driver.attached() == [UUID]
    assert driver.reconcile([keep]) == []


def test_unwritable_spec_dir_is_a_platform_error(tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_text('')
    drv = cdi.CdiPlatform({'spec_dir': str(blocker / 'cdi')})
    with pytest.raises(base.PlatformUnavailableError, match='cannot write'):
        drv.attach(base.PlatformRequest.from_vgpu(local_vgpu()))


def test_bad_mount_option():
    with pytest.raises(base.InvalidRequestError, match='absolute'):
        cdi.CdiPlatform({'mounts': 'relative/path'})


def test_drivers_sharing_a_directory_keep_their_own_files(driver):
    from pooling_drivers.platforms.kubernetes import platform

    k8s = platform.KubernetesPlatform({'spec_dir': driver.spec_dir,
                                       'lease_dir': driver.lease_dir})
    pod = local_vgpu()
    pod['consumer']['platform'] = 'kubernetes'
    k8s.attach(base.PlatformRequest.from_vgpu(pod))
    container = base.PlatformRequest.from_vgpu(remote_vgpu())
    driver.attach(container)
    assert driver.reconcile([container]) == [] and k8s.attached() == [UUID]
    assert k8s.reconcile([]) and driver.attached() == [LETTER_UUID] and k8s.attached() == []
