"""A CUDA program through ``pooling run`` against a real LUPINE on the lent accelerator.

Needs ``LUPINE_HOME`` (a LUPINE release: ``bin/lupine_driver_server``, client ``lib/``) and an
NVIDIA GPU (``nvidia-smi``).  Starts the ``lupine`` plugin (network-namespace confinement when
root) on the first GPU, a TLS gateway on loopback and ``pooling run``, copies 256 MiB host<->device
through it, then the same copy locally, and writes both bandwidths to
``$OUT/remote-gpu.json`` (or the test's tmp folder).  It changes no GPU setting.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

from pooling.gateway import credentials
from pooling.gateway import lease as lease_mod
from pooling.gateway import pki
from pooling.gateway import server
from pooling_drivers.remoting import base
from pooling_drivers.remoting import lupine
from pooling_drivers.remoting import netns

HOME = os.environ.get('LUPINE_HOME')
COPY = [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                     'cuda_copy.py'), '256']


def _gpu_uuid():
    if shutil.which('nvidia-smi') is None:
        return None
    out = subprocess.run(['nvidia-smi', '--query-gpu=uuid', '--format=csv,noheader'],
                         capture_output=True, text=True)
    return out.stdout.split()[0] if out.returncode == 0 and out.stdout.strip() else None


GPU = _gpu_uuid()
pytestmark = [
    pytest.mark.device,
    pytest.mark.skipif(not HOME, reason='LUPINE_HOME is not set (a LUPINE release is needed; '
                                        'the project ships none)'),
    pytest.mark.skipif(GPU is None, reason='no NVIDIA GPU here (nvidia-smi missing or silent)'),
]


def test_cuda_copy_through_gateway_vs_local(tmp_path):
    driver = lupine.LupineDriver({
        'server_path': os.path.join(HOME, 'bin', 'lupine_driver_server'),
        'run_dir': str(tmp_path / 'run'),
        'confinement': 'netns' if netns.available() is None else 'none'})
    probe = driver.probe()
    assert probe.available, probe.detail
    endpoint = driver.start(base.RemoteSliceRequest('gpu-lease', 'gpu-vgpu', (GPU,), 4096))
    files = pki.ensure(str(tmp_path / 'pki'), ['localhost'])
    gateway = server.Gateway(server.server_context(files.cert_file, files.key_file),
                             '127.0.0.1', 0)
    gateway.start()
    try:
        cred = credentials.mint()
        gateway.admit('gpu-lease', cred.sha256, endpoint, 2, cred.expires_at)
        doc = lease_mod.LeaseDocument('gpu-vgpu', 'lupine', (lease_mod.LeaseEndpoint(
            'localhost:%d' % gateway.address[1], 'gpu-lease'),), cred.token, cred.expires_at,
            files.ca_pem())
        lease_file = tmp_path / 'lease.json'
        lease_file.write_text(doc.to_json())
        remote = subprocess.run([sys.executable, '-m', 'pooling.cmd.run', 'run', '--lease',
                                 str(lease_file), '--lupine-lib', os.path.join(HOME, 'lib'),
                                 '--'] + COPY, capture_output=True, text=True, timeout=300)
        assert remote.returncode == 0, remote.stdout + remote.stderr
        local = subprocess.run(COPY, capture_output=True, text=True, timeout=300)
        assert local.returncode == 0, local.stdout + local.stderr
        through, direct = (json.loads(r.stdout.strip().splitlines()[-1]) for r in (remote, local))
        assert through['ok'] and direct['ok']
        assert gateway.counters('gpu-lease').bytes_in > 3 * 256 * 1048576
        record = {'gpu': GPU, 'lupine': probe.version, 'through_gateway': through,
                  'local': direct}
        out = os.environ.get('OUT') or str(tmp_path)
        with open(os.path.join(out, 'remote-gpu.json'), 'w') as f:
            json.dump(record, f, indent=2)
        print(json.dumps(record))
    finally:
        gateway.stop()
        driver.stop_all()
