"""``pooling run`` end to end on loopback: gateway + sim backend + a program computing saxpy."""

import datetime
import http.server
import json
import subprocess
import sys
import threading

import pytest

from pooling.cmd import run
from pooling.gateway import credentials
from pooling_drivers.remoting import base
from pooling_drivers.remoting import sim

SIMCLIENT = [sys.executable, '-m', 'pooling_drivers.remoting.simclient']


@pytest.fixture
def sim_driver(tmp_path):
    driver = sim.SimDriver({'run_dir': str(tmp_path / 'run')})
    yield driver
    driver.stop_all()


@pytest.fixture
def sim_lease(sim_driver, make_lease, tmp_path):
    backend = sim_driver.start(base.RemoteSliceRequest('lease-s', 'vgpu-s', ('GPU-s0',), 64, 100))
    lease = make_lease('lease-s', backend=backend)
    path = tmp_path / 'lease.json'
    path.write_text(lease.document('sim').to_json())
    lease.path = str(path)
    return lease


def pooling_run(*argv):
    """Run the console entry point in a child, as a user would."""
    return subprocess.run([sys.executable, '-m', 'pooling.cmd.run', 'run', *argv],
                          capture_output=True, text=True, timeout=120)


def test_saxpy_through_gateway_is_correct(sim_lease, gateway, sim_driver):
    out = pooling_run('--lease', sim_lease.path, '--', *SIMCLIENT, 'saxpy', '--n', '200000')
    assert out.returncode == 0, out.stderr
    assert 'saxpy n=200000 ok' in out.stdout
    assert gateway.counters('lease-s').bytes_in > 2 * 200000 * 4
    assert sim_driver.counters('lease-s').connections_total == 1


def test_the_program_exit_status_is_returned(sim_lease):
    out = pooling_run('--lease', sim_lease.path, '--', sys.executable, '-c',
                      'import os, sys; sys.exit(0 if os.environ["POOLING_SIM_SERVER"]'
                      '.startswith("127.0.0.1:") else 9) or 0; ')
    assert out.returncode == 0
    out = pooling_run('--lease', sim_lease.path, '--', sys.executable, '-c',
                      'import sys; sys.exit(7)')
    assert out.returncode == 7


def test_allocation_past_the_slice_fails_with_the_limit(sim_lease):
    out = pooling_run('--lease', sim_lease.path, '--', *SIMCLIENT, 'alloc', '--mib', '65')
    assert out.returncode == 1
    assert 'slice limit of 64 MiB' in out.stderr


def test_no_lease(monkeypatch):
    monkeypatch.delenv(run.LEASE_ENV, raising=False)
    assert run.main(['run', '--', 'true']) == run.EXIT_FAILURE


def test_no_lease_message(tmp_path):
    out = pooling_run('--lease', str(tmp_path / 'missing.json'), '--', 'true')
    assert out.returncode == run.EXIT_FAILURE
    assert 'no lease' in out.stderr


def test_expired_lease(sim_lease, tmp_path):
    data = json.loads(open(sim_lease.path).read())
    data['expires_at'] = '2020-01-01T00:00:00Z'
    path = tmp_path / 'old.json'
    path.write_text(json.dumps(data))
    out = pooling_run('--lease', str(path), '--', 'true')
    assert out.returncode == run.EXIT_FAILURE
    assert 'expired' in out.stderr


def test_wrong_credential(sim_lease, tmp_path):
    data = json.loads(open(sim_lease.path).read())
    data['token'] = credentials.mint().token
    path = tmp_path / 'wrong.json'
    path.write_text(json.dumps(data))
    out = pooling_run('--lease', str(path), '--', 'true')
    assert out.returncode == run.EXIT_FAILURE
    assert 'refused the credential' in out.stderr


def test_gateway_unreachable(sim_lease, gateway):
    gateway.stop()
    out = pooling_run('--lease', sim_lease.path, '--', 'true')
    assert out.returncode == run.EXIT_FAILURE
    assert 'cannot reach gateway' in out.stderr


def test_revoke_cuts_a_running_program(sim_lease, gateway):
    program = ('import time, sys\n'
               'from pooling_drivers.remoting import simclient\n'
               'dev = simclient.devices()[0]\n'
               'print("up", flush=True)\n'
               'try:\n'
               '    while True:\n'
               '        dev.mem_info(); time.sleep(0.05)\n'
               'except (OSError, simclient.SimError) as exc:\n'
               '    print("cut", type(exc).__name__, flush=True); sys.exit(3)\n')
    child = subprocess.Popen([sys.executable, '-m', 'pooling.cmd.run', 'run', '--lease',
                              sim_lease.path, '--', sys.executable, '-c', program],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == 'up'
    gateway.revoke('lease-s')
    assert child.wait(timeout=10) == 3
    assert child.stdout.readline().startswith('cut')


@pytest.fixture
def metadata_server(sim_lease):
    body = json.dumps({'pooling': {'leases': [sim_lease.document('sim').to_dict()]},
                       'other': {}}).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            ok = self.path == '/openstack/latest/vendor_data2.json'
            self.send_response(200 if ok else 404)
            self.end_headers()
            self.wfile.write(body if ok else b'')

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield 'http://127.0.0.1:%d/openstack/latest/vendor_data2.json' % srv.server_address[1]
    srv.shutdown()


def test_lease_from_nova_vendordata(metadata_server):
    out = pooling_run('--metadata', '--metadata-url', metadata_server, '--', *SIMCLIENT,
                      'saxpy', '--n', '1000')
    assert out.returncode == 0, out.stderr
    out = pooling_run('--metadata', '--metadata-url', metadata_server, '--vgpu', 'other',
                      '--', 'true')
    assert out.returncode == run.EXIT_FAILURE and 'no lease for vGPU other' in out.stderr


def test_lease_from_the_api(sim_lease, requests_mock, monkeypatch):
    requests_mock.post('http://pool.example/v1/vgpus/vgpu-s/lease',
                       text=sim_lease.document('sim').to_json())
    requests_mock.post('http://pool.example/v1/vgpus/gone/lease', status_code=404,
                      json={'errors': [{'detail': 'not found'}]})
    argv = ['run', '--vgpu', 'vgpu-s', '--os-auth-type', 'none', '--pooling-endpoint',
            'http://pool.example', '--', 'true']
    args = run.build_parser(argv).parse_args(argv)
    assert run.get_lease(args).vgpu_uuid == 'vgpu-lease-s'
    # a fresh credential: POST, at the microversion that has the lease resource
    assert requests_mock.last_request.method == 'POST'
    assert requests_mock.last_request.headers['OpenStack-API-Version'] == (
        'accelerator-pool ' + run.LEASE_MICROVERSION)
    args.vgpu = 'gone'
    with pytest.raises(run.RunError, match='does not exist or is not remote'):
        run.get_lease(args)


def test_client_environment_per_protocol():
    from pooling_drivers.remoting import lupine

    env = lupine.LupineDriver.client_env(['127.0.0.1:1', '127.0.0.1:2'],
                                         {'client_lib_dir': '/x/lib'})
    assert env == {'LUPINE_SERVER': '127.0.0.1:1,127.0.0.1:2', 'LD_LIBRARY_PATH': '/x/lib',
                   'LUPINE_DISABLE_LOCAL': '1'}
    assert sim.SimDriver.client_env(['127.0.0.1:5']) == {'POOLING_SIM_SERVER': '127.0.0.1:5'}


def test_expired_by_clock_before_connecting(sim_lease, tmp_path):
    doc = sim_lease.document('sim')
    assert not doc.expired(datetime.datetime.now(datetime.timezone.utc))


def test_a_lease_caught_half_rewritten_is_read_again(sim_lease):
    """A platform rewrites a mounted lease in place when it rotates the credential: a reader
    that catches it half written reads again instead of failing."""
    whole = open(sim_lease.path).read()
    with open(sim_lease.path, 'w') as f:
        f.write(whole[:len(whole) // 2])
    timer = threading.Timer(0.3, lambda: open(sim_lease.path, 'w').write(whole))
    timer.start()
    try:
        assert run._from_file(sim_lease.path).token == json.loads(whole)['token']
    finally:
        timer.join()
    with open(sim_lease.path, 'w') as f:
        f.write(whole[:10])
    with pytest.raises(run.lease_mod.LeaseError):
        run._from_file(sim_lease.path, attempts=2)
