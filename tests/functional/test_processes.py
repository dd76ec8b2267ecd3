"""The real console scripts as separate processes: pooling-manage, -api, -conductor, -agent.

Kills the conductor with SIGKILL mid-life and checks a new one finishes its work.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest

from tests.functional import fixtures
from tests.functional import test_claim_race

BIN = os.path.dirname(sys.executable)


def _http(method, url, body=None):
    req = urllib.request.Request(url, json.dumps(body).encode() if body else None,
                                 method=method, headers={'Content-Type': 'application/json'})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            text = resp.read()
            return resp.status, json.loads(text) if text else None
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b'null')


@pytest.fixture
def processes(mysql_db):
    vhost = fixtures.RabbitVhost()
    port = test_claim_race._free_port()
    conf = tempfile.NamedTemporaryFile('w', suffix='.conf', delete=False)
    conf.write('[DEFAULT]\ntransport_url = %s\n[database]\nconnection = %s\n'
               '[api]\nport = %d\nauth_strategy = noauth\nworkers = 2\n'
               '[agent]\nhost = proc-gpu\nreport_interval = 1\nstate_dir = %s\n'
               'sim_devices = nvidia:A100-SXM4-80GB:81920:108:1\n'
               '[conductor]\nreconcile_interval = 1\nstuck_after = 1\n'
               % (vhost.create(), mysql_db.url, port, tempfile.mkdtemp(prefix='pooling-agent-')))
    conf.close()
    subprocess.run([os.path.join(BIN, 'pooling-manage'), '--config-file', conf.name, 'db',
                    'sync'], check=True, capture_output=True)
    procs = {}

    def start(name):
        procs[name] = subprocess.Popen([os.path.join(BIN, name), '--config-file', conf.name],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                       start_new_session=True)

    for name in ('pooling-conductor', 'pooling-agent', 'pooling-api'):
        start(name)
    yield 'http://127.0.0.1:%d' % port, procs, start
    for proc in procs.values():
        os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs.values():
        proc.wait(15)
    vhost.drop()


def _wait(url, predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status, body = _http('GET', url)
            if status == 200 and predicate(body):
                return body
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError('timed out on %s' % url)


def test_life_across_processes_and_a_killed_conductor(processes):
    endpoint, procs, start = processes
    _wait(endpoint + '/v1/hosts', lambda b: len(b['hosts']) == 1)
    status, vgpu = _http('POST', endpoint + '/v1/vgpus', {'compute_percent': 50,
                                                          'memory_mb': 1000})
    assert status == 201, vgpu
    _wait(endpoint + '/v1/vgpus/' + vgpu['uuid'], lambda b: b['state'] == 'ACTIVE')
    os.killpg(procs['pooling-conductor'].pid, signal.SIGKILL)
    procs['pooling-conductor'].wait(10)
    assert _http('DELETE', endpoint + '/v1/vgpus/' + vgpu['uuid'])[0] == 202
    time.sleep(1)
    assert _http('GET', endpoint + '/v1/vgpus/' + vgpu['uuid'])[1]['state'] == 'RELEASING'
    start('pooling-conductor')
    _wait(endpoint + '/v1/vgpus/' + vgpu['uuid'], lambda b: b['state'] == 'DELETED')
    device = _http('GET', endpoint + '/v1/devices')[1]['devices'][0]
    assert device['used'] == {'compute_percent': 0, 'memory_mb': 0}
