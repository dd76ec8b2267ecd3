"""The lupine plugin against the stand-in server (fake_lupine.py; no LUPINE code, no GPU)."""

import os
import socket
import sys
import time

import pytest

from pooling_drivers.remoting import base
from pooling_drivers.remoting import lupine
from pooling_drivers.remoting import netns

STAND_IN = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fake_lupine.py')
NO_NETNS = netns.available()


@pytest.fixture
def install(tmp_path):
    """Lay the stand-in out like a LUPINE install: <prefix>/bin/lupine_driver_server."""
    def make(version_file=None):
        prefix = tmp_path / 'lupine'
        (prefix / 'bin').mkdir(parents=True, exist_ok=True)
        server = prefix / 'bin' / 'lupine_driver_server'
        server.write_text(f'#!/bin/sh\nexec {sys.executable} {STAND_IN} "$@"\n')
        server.chmod(0o755)
        if version_file:
            (prefix / 'VERSION').write_text(version_file + '\n')
        return str(server)
    return make


@pytest.fixture
def driver_for(install, tmp_path):
    made = []

    def make(confinement='netns', on_degraded=None, **options):
        opts = {'server_path': install(), 'run_dir': str(tmp_path / 'run'),
                'confinement': confinement, 'backoff_initial': 0.05, 'port_range': '15700:15799'}
        opts.update(options)
        d = lupine.LupineDriver(opts, on_degraded=on_degraded)
        made.append(d)
        return d
    yield make
    for d in made:
        d.stop_all()


def req(lease_id='lp1', uuids=('MIG-1c2d',)):
    return base.RemoteSliceRequest(lease_id, 'v-' + lease_id, uuids, 4096, 30,
                                   {'CUDA_MPS_ACTIVE_THREAD_PERCENTAGE': '30'})


def test_probe_says_when_lupine_is_missing(tmp_path):
    result = lupine.LupineDriver({'server_path': str(tmp_path / 'nope')}).probe()
    assert not result.ok and 'is not installed' in result.detail
    with pytest.raises(base.BackendUnavailable, match='not installed'):
        lupine.LupineDriver({'server_path': str(tmp_path / 'nope')}).start(req())


def test_probe_reads_the_version_file_first(install):
    result = lupine.LupineDriver({'server_path': install('v1.4.2'), 'confinement': 'none',
                                  'expected_version': '1.4.2'}).probe()
    assert result.ok and result.version == '1.4.2' and 'VERSION' in result.detail


def test_probe_and_start_refuse_another_version(install):
    d = lupine.LupineDriver({'server_path': install(), 'confinement': 'none',
                             'expected_version': '1.0.0'})
    result = d.probe()
    assert result.available and not result.ok
    assert result.version == '0.9.0-fake' and 'not the expected 1.0.0' in result.detail
    with pytest.raises(base.BackendUnavailable, match='not the expected 1.0.0'):
        d.start(req())


@pytest.mark.skipif(NO_NETNS is not None, reason=f'network namespaces unavailable: {NO_NETNS}')
def test_netns_backend_answers_through_the_relay_only(driver_for):
    d = driver_for('netns')
    ep = d.start(req(uuids=('MIG-a', 'MIG-b')))
    assert ep.transport == 'unix' and os.stat(ep.path).st_mode & 0o077 == 0
    sock = ep.connect()
    headers = lupine.handshake(sock)
    assert headers[':status'] == '200' and headers['x-fake-stand-in'] == 'yes'
    assert headers['x-fake-visible-devices'] == 'MIG-a,MIG-b'
    counters = d.counters('lp1')
    assert counters.connections == 1 and counters.bytes_in > 0 and counters.bytes_out > 0
    # The server bound 0.0.0.0:14833 -- in its own namespace: nothing on the host answers.
    with pytest.raises(OSError):
        socket.create_connection(('127.0.0.1', lupine.DEFAULT_PORT), timeout=1).close()
    sock.close()


@pytest.mark.skipif(NO_NETNS is not None, reason=f'network namespaces unavailable: {NO_NETNS}')
def test_two_leases_share_the_port_number_in_separate_namespaces(driver_for):
    d = driver_for('netns')
    a, b = d.start(req('lpa', ('GPU-a',))), d.start(req('lpb', ('GPU-b',)))
    assert lupine.handshake(a.connect())['x-fake-visible-devices'] == 'GPU-a'
    assert lupine.handshake(b.connect())['x-fake-visible-devices'] == 'GPU-b'


def test_unconfined_mode_allocates_a_port(driver_for):
    d = driver_for('none')
    ep = d.start(req())
    assert lupine.handshake(ep.connect())[':status'] == '200'
    assert 15700 <= d._get('lp1').relay.port <= 15799


def test_killed_server_is_restarted_and_stop_is_clean(driver_for):
    d = driver_for('netns' if NO_NETNS is None else 'none')
    ep = d.start(req())
    pid = d.health('lp1').pid
    os.kill(pid, 9)
    deadline = time.monotonic() + 15
    while not (d.health('lp1').healthy and d.health('lp1').pid not in (None, pid)):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert lupine.handshake(ep.connect())[':status'] == '200'
    new_pid = d.health('lp1').pid
    d.stop('lp1')
    assert not os.path.exists(ep.path)
    with pytest.raises(ProcessLookupError):
        os.kill(new_pid, 0)
    with pytest.raises(base.LeaseNotFound):
        d.health('lp1')


def test_crash_loop_degrades_and_tells_the_agent(driver_for):
    calls = []
    d = driver_for('none', on_degraded=lambda lease, why: calls.append((lease, why)),
                   max_restarts=2, env={'FAKE_LUPINE_EXIT_AFTER': '0.2'})
    d.start(req())
    deadline = time.monotonic() + 15
    while d.health('lp1').state != base.DEGRADED:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert len(calls) == 1 and calls[0][0] == 'lp1' and 'failed 3 times' in calls[0][1]


def test_server_that_dies_at_start_is_unavailable(driver_for):
    d = driver_for('none', env={'FAKE_LUPINE_EXIT': '2'}, start_timeout=5)
    with pytest.raises(base.BackendUnavailable, match='crashing as asked'):
        d.start(req())


def test_gateway_in_front_of_lupine(driver_for, tmp_path):
    """Consumer proxy -> TLS gateway -> relay -> stand-in: the HTTP/2 session passes unchanged."""
    from pooling.gateway import credentials
    from pooling.gateway import lease as lease_mod
    from pooling.gateway import pki
    from pooling.gateway import proxy
    from pooling.gateway import server

    d = driver_for('netns' if NO_NETNS is None else 'none')
    ep = d.start(req())
    files = pki.ensure(str(tmp_path / 'pki'), ['localhost'])
    gw = server.Gateway(server.server_context(files.cert_file, files.key_file), '127.0.0.1', 0)
    gw.start()
    try:
        cred = credentials.mint()
        gw.admit('lp1', cred.sha256, ep, 2, cred.expires_at)
        endpoint = lease_mod.LeaseEndpoint('localhost:%d' % gw.address[1], 'lp1')
        local = proxy.LocalProxy(endpoint, cred.token, proxy.client_context(files.ca_pem()))
        host, port = local.start().split(':')
        headers = lupine.handshake(socket.create_connection((host, int(port))))
        assert headers[':status'] == '200' and headers['x-fake-visible-devices'] == 'MIG-1c2d'
        assert gw.counters('lp1').bytes_in >= d.counters('lp1').bytes_in > 0
        local.stop()
    finally:
        gw.stop()
