"""The baremetal platform: the env and lease files a bare-metal job uses."""

import os
import stat
import subprocess
import uuid

import pytest

from pooling_drivers.platforms import baremetal
from pooling_drivers.platforms import base


def _request(job='train-7', host='bm-1', slice_host='bm-1', remote=None, env=None):
    return base.PlatformRequest.from_vgpu({
        'uuid': str(uuid.uuid4()),
        'consumer': {'platform': 'baremetal', 'host': host, 'id': job},
        'slices': [{'index': 0, 'device_uuid': 'd0', 'host': slice_host, 'compute_milli': 500,
                    'memory_mb': 8192},
                   {'index': 1, 'device_uuid': 'd1', 'host': slice_host, 'compute_milli': 500,
                    'memory_mb': 8192}],
        'attachment': {'slices': [
            {'env': env or {'CUDA_VISIBLE_DEVICES': 'GPU-0',
                            'CUDA_MPS_ACTIVE_THREAD_PERCENTAGE': '50'},
             'devices': ['/dev/nvidia0', '/dev/nvidiactl']},
            {'env': {'CUDA_VISIBLE_DEVICES': 'GPU-1'},
             'devices': ['/dev/nvidia1', '/dev/nvidiactl'],
             'mounts': [{'host': '/usr/lib/hami/libvgpu.so', 'container': '/usr/lib/libvgpu.so'}]}],
            'remote': remote}})


def _env_of(path):
    # What a job's shell sees after sourcing the file.
    out = subprocess.run(['sh', '-c', f'set -a; . {path}; env'], capture_output=True, text=True,
                         check=True, env={}).stdout
    return dict(line.split('=', 1) for line in out.splitlines() if '=' in line)


def test_local_card_env_file_is_what_the_job_sources(tmp_path):
    driver = baremetal.BaremetalPlatform({'state_dir': str(tmp_path)})
    request = _request()
    attachment = driver.attach(request)
    env_path, json_path = driver.files(request)
    env = _env_of(env_path)
    assert env['CUDA_VISIBLE_DEVICES'] == 'GPU-0,GPU-1'
    assert env['CUDA_MPS_ACTIVE_THREAD_PERCENTAGE'] == '50'
    assert env['POOLING_VGPU'] == request.vgpu_uuid
    assert stat.S_IMODE(os.stat(env_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(env_path)).st_mode) == 0o700
    assert attachment.handle == env_path and attachment.details['mode'] == 'local'
    assert '"/dev/nvidia1"' in open(json_path).read()
    driver.detach(request, attachment)
    assert not os.path.exists(os.path.dirname(env_path))
    driver.detach(request, attachment)


def test_remote_vgpu_gets_the_lease_for_pooling_run(tmp_path):
    driver = baremetal.BaremetalPlatform({'state_dir': str(tmp_path)})
    lease = {'version': 1, 'protocol': 'sim', 'endpoints': ['gpu-a:14833'], 'token': 's3cret'}
    request = _request(slice_host='gpu-a', remote=lease)
    driver.attach(request)
    env_path, json_path = driver.files(request)
    assert _env_of(env_path)['POOLING_LEASE_FILE'] == json_path
    import json
    assert json.load(open(json_path)) == lease
    assert stat.S_IMODE(os.stat(json_path).st_mode) == 0o600


def test_values_are_quoted_for_the_shell(tmp_path):
    driver = baremetal.BaremetalPlatform({'state_dir': str(tmp_path)})
    request = _request(env={'LD_PRELOAD': '/opt/a b/lib.so', 'X': "it's; rm -rf /"})
    driver.attach(request)
    env = _env_of(driver.files(request)[0])
    assert env['LD_PRELOAD'] == '/opt/a b/lib.so' and env['X'] == "it's; rm -rf /"


@pytest.mark.parametrize('job', ['../etc', 'a/b', '', '.hidden'])
def test_job_names_cannot_escape_the_state_dir(tmp_path, job):
    driver = baremetal.BaremetalPlatform({'state_dir': str(tmp_path)})
    with pytest.raises(base.InvalidRequestError, match='names a job'):
        driver.attach(_request(job=job))
    assert os.listdir(tmp_path) == []


def test_remote_without_a_lease_is_refused(tmp_path):
    driver = baremetal.BaremetalPlatform({'state_dir': str(tmp_path)})
    with pytest.raises(base.InvalidRequestError, match='no remote lease'):
        driver.attach(_request(slice_host='gpu-a'))


def test_reconcile_rewrites_missing_files_and_removes_strays(tmp_path):
    driver = baremetal.BaremetalPlatform({'state_dir': str(tmp_path)})
    kept, stray = _request(), _request(job='old-job')
    driver.attach(kept)
    driver.attach(stray)
    os.remove(driver.files(kept)[0])
    drifts = driver.reconcile([kept])
    assert {(d.vgpu_uuid, d.action) for d in drifts} == {(kept.vgpu_uuid, 'repaired'),
                                                         (stray.vgpu_uuid, 'repaired')}
    assert all(os.path.exists(p) for p in driver.files(kept))
    assert not os.path.exists(os.path.join(tmp_path, 'old-job'))
