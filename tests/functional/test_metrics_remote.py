"""Remote traffic in /metrics: a remote vGPU served by the ``sim`` backend through the agent's
real TLS gateway (MariaDB, RabbitMQ), bytes moved by ``pooling run`` with the sim client, the
counters reported with the agents' heartbeats and scraped with prometheus_client's parser."""

import json
import os
import subprocess
import sys
import time

import pytest

from tests.functional import conftest
from tests.functional import fixtures
from tests.functional.test_metrics import _scrape

BIN = os.path.dirname(sys.executable)
V11 = {'OpenStack-API-Version': 'accelerator-pool 1.3'}
N = 100000  # float32 values per array: saxpy uploads two arrays and downloads one


class _SimStack(fixtures.Stack):
    """The functional stack with the ``sim`` data plane instead of the echo fake."""

    def agent_conf(self, name, fabric, devices, health_file=None):
        conf = super().agent_conf(name, fabric, devices, health_file)
        conf.set_override('remoting_backend', 'sim', group='agent')
        return conf


@pytest.fixture
def sim_stack(mysql_db):
    s = _SimStack(mysql_db.url, conftest.HOSTS).start()
    yield s
    s.stop()


def _remote(samples, name, vgpu, **labels):
    return sum(v for lab, v in samples.get(name, [])
               if lab.get('vgpu') == vgpu and all(lab.get(k) == w for k, w in labels.items()))


def _saxpy_and_scrape(stack, uuid, tmp_path, times):
    """Issue a credential, run saxpy through it, wait for ``times`` saxpys in the scrape."""
    lease = stack.client.post('/v1/vgpus/%s/lease' % uuid, headers=V11)
    assert lease.status_int == 201, lease.text
    path = tmp_path / ('lease-%d.json' % times)
    path.write_text(json.dumps(lease.json))
    run = subprocess.run(
        [os.path.join(BIN, 'pooling'), 'run', '--lease', str(path), '--', sys.executable, '-m',
         'pooling_drivers.remoting.simclient', 'saxpy', '--n', str(N)],
        capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    # The agents report every second ([agent] report_interval in the fixture).
    deadline, m = time.monotonic() + 20, {}
    while time.monotonic() < deadline:
        m = _scrape(stack.client.get('/metrics').text)
        if (_remote(m, 'pooling_remote_bytes_total', uuid, direction='in') >= times * 2 * N * 4
                and _remote(m, 'pooling_remote_bytes_total', uuid, direction='out')
                >= times * N * 4):
            break
        time.sleep(0.5)
    return m


def test_remote_bytes_per_vgpu_are_scraped(sim_stack, tmp_path):
    stack = sim_stack
    resp = stack.client.post('/v1/vgpus', {
        'compute_percent': 25, 'memory_mb': 4096, 'locality': 'remote-required',
        'models': ['A100-SXM4-80GB'],
        'consumer': {'platform': 'other', 'host': 'cpu-1', 'id': 'job-1'}})
    assert resp.status_int == 201, resp.text
    uuid = stack.wait_state(resp.json['uuid'], ('ACTIVE',))['uuid']
    before = _scrape(stack.client.get('/metrics').text)
    assert _remote(before, 'pooling_remote_bytes_total', uuid) == 0

    m = _saxpy_and_scrape(stack, uuid, tmp_path, 1)
    sent = _remote(m, 'pooling_remote_bytes_total', uuid, direction='in', project='admin')
    got = _remote(m, 'pooling_remote_bytes_total', uuid, direction='out', project='admin')
    # Two arrays up, one down, plus the protocol's own messages (small).
    assert 2 * N * 4 <= sent < 2 * N * 4 + 65536, sent
    assert N * 4 <= got < N * 4 + 65536, got
    assert _remote(m, 'pooling_remote_connections_total', uuid) >= 1

    # A new credential is a new lease id in the gateway (the old one revoked): the vGPU's
    # counters go on from where they were.
    m = _saxpy_and_scrape(stack, uuid, tmp_path, 2)
    assert 2 * sent <= _remote(m, 'pooling_remote_bytes_total', uuid, direction='in') \
        < 2 * sent + 65536
    assert _remote(m, 'pooling_remote_connections_total', uuid) >= 2
    assert _remote(m, 'pooling_remote_open_connections', uuid) == 0  # pooling run ended
    assert time.time() - _remote(m, 'pooling_remote_last_use_timestamp_seconds', uuid) < 60

    # Deleting the vGPU drops its series at the next report.
    assert stack.client.delete('/v1/vgpus/' + uuid).status_int == 202
    stack.wait_state(uuid, ('DELETED',))
    stack.wait_for(lambda: uuid not in stack.client.get('/metrics').text,
                   'the deleted vGPU to leave /metrics', timeout=20)
