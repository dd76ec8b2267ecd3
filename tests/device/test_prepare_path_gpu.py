"""The whole prepare path on the lent accelerator: API → conductor → agent → LUPINE → pooling run.

A vGPU on the machine's GPU is claimed for a consumer host without GPUs; the
agent (``nvidia`` driver, ``lupine`` remoting backend from ``LUPINE_HOME``)
prepares its slice, starts LUPINE on it and admits the lease in its gateway;
the owner issues the lease through the API, and a CUDA program run by
``pooling run --lease`` copies 64 MiB host↔device and back through it.

The device machine has no MariaDB or RabbitMQ, so API, conductor and agents
run in this process on SQLite with in-process messaging, as the all-in-one
does; the functional tests cover the same path on MariaDB and RabbitMQ with the
simulated cards. Skipped, saying why, without ``LUPINE_HOME``, a GPU or
nvidia-ml-py. It changes no GPU setting.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.functional import fixtures

HOME = os.environ.get('LUPINE_HOME')
COPY = [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                     'cuda_copy.py'), '64']
V11 = {'OpenStack-API-Version': 'accelerator-pool 1.3'}


def _why_not():
    if not HOME:
        return 'LUPINE_HOME is not set (a LUPINE release is needed; the project ships none)'
    if shutil.which('nvidia-smi') is None:
        return 'no NVIDIA GPU here (nvidia-smi missing)'
    try:
        import pynvml  # noqa: F401
    except ImportError:
        return 'nvidia-ml-py is not installed'
    return ''


pytestmark = [pytest.mark.device, pytest.mark.skipif(bool(_why_not()), reason=_why_not())]


def test_a_cuda_program_runs_on_a_remote_vgpu_prepared_by_the_pool(tmp_path):
    db = fixtures.Database('sqlite')
    url = db.create()
    lupine = {('remoting_lupine', 'server_path'): os.path.join(HOME, 'bin',
                                                               'lupine_driver_server'),
              ('remoting_lupine', 'run_dir'): str(tmp_path / 'lupine'),
              ('remoting_lupine', 'client_lib_dir'): os.path.join(HOME, 'lib')}
    stack = fixtures.Stack(url, [('gpu-0', 'f1', None), ('cons-1', 'f1', '')],
                           transport_url='fake:/', overrides=lupine)
    real_conf = stack.agent_conf

    def agent_conf(name, fabric, devices, health_file=None):
        conf = real_conf(name, fabric, devices or '', health_file)
        if devices is None:  # the GPU host: the real card through NVML, served by LUPINE
            conf.set_override('enabled_drivers', ['nvidia'], group='agent')
            conf.set_override('remoting_backend', 'lupine', group='agent')
            conf.set_override('advertise_host', 'localhost', group='gateway')
        return conf
    stack.agent_conf = agent_conf
    stack.start()
    try:
        c = stack.client
        resp = c.post('/v1/vgpus', {'compute_percent': 100, 'memory_mb': 4096,
                                    'isolation': 'none', 'locality': 'remote-required',
                                    'consumer': {'platform': 'baremetal', 'host': 'cons-1',
                                                 'id': 'job'}})
        assert resp.status_int == 201, resp.text
        vgpu = stack.wait_state(resp.json['uuid'], ('ACTIVE', 'ERROR'), timeout=120)
        assert vgpu['state'] == 'ACTIVE', vgpu['state_reason']
        lease = c.post('/v1/vgpus/%s/lease' % vgpu['uuid'], headers=V11)
        assert lease.status_int == 201, lease.text
        path = tmp_path / 'lease.json'
        path.write_text(json.dumps(lease.json))
        out = subprocess.run([sys.executable, '-m', 'pooling.cmd.run', 'run', '--lease',
                              str(path), '--lupine-lib', os.path.join(HOME, 'lib'), '--']
                             + COPY, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stdout + out.stderr
        result = json.loads(out.stdout.strip().splitlines()[-1])
        assert result['ok']
        print(json.dumps({'through_pool': result}))
        assert c.delete('/v1/vgpus/' + vgpu['uuid']).status_int == 202
        stack.wait_state(vgpu['uuid'], ('DELETED',), timeout=60)
    finally:
        stack.stop()
