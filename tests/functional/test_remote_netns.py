"""Separated deployment across network namespaces, every part a real process.

Hosts are network namespaces on one L2 fabric (a bridge in a namespace of its
own, a veth per host): two device hosts run ``pooling-agent`` (with its TLS
gateway and the ``sim`` backend of the simulated cards), the consumer host
runs nothing but ``pooling run``; API and conductor run in the test's own
namespace on MariaDB and RabbitMQ (RabbitMQ is reached from the namespaces
through a small TCP relay on the fabric, since it listens on loopback only).

Skipped, with the reason, where network namespaces cannot be made (not root,
no ``ip``, or a sandbox that forbids it).
"""

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading

import pytest

from pooling.gateway import pki
from tests.functional import fixtures
from tests.functional import test_claim_race
from tests.functional.test_processes import _http
from tests.functional.test_processes import _wait

BIN = os.path.dirname(sys.executable)
V11 = {'OpenStack-API-Version': 'accelerator-pool 1.3'}
SIMCLIENT = [sys.executable, '-m', 'pooling_drivers.remoting.simclient']


def _ip(*args, check=True):
    return subprocess.run(['ip', *args], check=check, capture_output=True, text=True)


def _netns_ready():
    if os.geteuid() != 0:
        return 'network namespaces need root (ip netns add)'
    if shutil.which('ip') is None:
        return 'the ip command (iproute2) is not installed'
    probe = 'plprobe%d' % os.getpid()
    result = _ip('netns', 'add', probe, check=False)
    if result.returncode != 0:
        return 'ip netns add is not permitted here: %s' % result.stderr.strip()
    _ip('netns', 'del', probe, check=False)
    return ''


class Relay:
    """Forward ``listen`` to ``target`` byte for byte (RabbitMQ for the namespaces)."""

    def __init__(self, listen, target):
        self.target = target
        self.server = socket.create_server(listen)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.server.close()


class Fabric:
    """Namespaces ``<tag>f`` (bridge), and one per host with an address on the bridge."""

    def __init__(self):
        self.tag = 'pl%04x' % random.getrandbits(16)
        self.net = '10.%d.%d' % (random.randint(64, 127), random.randint(1, 254))
        self.fabric_ns = self.tag + 'f'
        self.hosts = {}
        self.root_if = self.tag + 'r'
        _ip('netns', 'add', self.fabric_ns)
        self._in(self.fabric_ns, 'link', 'add', 'br0', 'type', 'bridge')
        self._in(self.fabric_ns, 'link', 'set', 'br0', 'up')
        self._in(self.fabric_ns, 'link', 'set', 'lo', 'up')
        # The test's own namespace (API, conductor, RabbitMQ relay) is on the fabric as .1.
        _ip('link', 'add', self.root_if, 'type', 'veth', 'peer', 'name', self.root_if + 'b')
        self._plug(self.root_if + 'b')
        _ip('addr', 'add', self.net + '.1/24', 'dev', self.root_if)
        _ip('link', 'set', self.root_if, 'up')

    @staticmethod
    def _in(ns, *args):
        return _ip('-n', ns, *args)

    def _plug(self, peer):
        _ip('link', 'set', peer, 'netns', self.fabric_ns)
        self._in(self.fabric_ns, 'link', 'set', peer, 'master', 'br0')
        self._in(self.fabric_ns, 'link', 'set', peer, 'up')

    def add_host(self, name, number):
        ns = '%s%s' % (self.tag, name[-1])
        _ip('netns', 'add', ns)
        veth = ns + 'v'
        _ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', veth + 'b')
        _ip('link', 'set', veth, 'netns', ns)
        self._plug(veth + 'b')
        address = '%s.%d' % (self.net, number)
        self._in(ns, 'addr', 'add', address + '/24', 'dev', veth)
        self._in(ns, 'link', 'set', veth, 'up')
        self._in(ns, 'link', 'set', 'lo', 'up')
        self.hosts[name] = (ns, address)
        return ns, address

    def destroy(self):
        for ns, _address in self.hosts.values():
            _ip('netns', 'del', ns, check=False)
        _ip('link', 'del', self.root_if, check=False)
        _ip('netns', 'del', self.fabric_ns, check=False)


@pytest.fixture
def separated(mysql_db):
    why = _netns_ready()
    if why:
        pytest.skip(why)
    fabric = Fabric()
    vhost = fixtures.RabbitVhost()
    vhost_url = vhost.create()
    relay = Relay((fabric.net + '.1', 5672), ('127.0.0.1', 5672))
    tmp = tempfile.mkdtemp(prefix='pooling-netns-')
    port = test_claim_race._free_port()
    procs = {}
    try:
        pki.ensure(os.path.join(tmp, 'pki-seed'), ['seed'])  # one CA for every gateway
        common = ('[DEFAULT]\ntransport_url = %s\n[database]\nconnection = %s\n'
                  '[api]\nport = %d\nauth_strategy = noauth\nworkers = 1\n'
                  '[conductor]\nreconcile_interval = 1\nhost_down_after = 4\n'
                  'agent_timeout = 5\nheartbeat_interval = 1\n')

        def write(name, text, transport=vhost_url):
            path = os.path.join(tmp, name + '.conf')
            with open(path, 'w') as f:
                f.write(common % (transport, mysql_db.url, port) + text)
            return path

        def start(name, conf, binary, ns=None):
            log = open(os.path.join(tmp, name + '.log'), 'a')
            argv = [os.path.join(BIN, binary), '--config-file', conf]
            if ns:
                argv = ['ip', 'netns', 'exec', ns] + argv
            procs[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                           start_new_session=True)

        root_conf = write('root', '[agent]\nhost = cons-1\nfabric = f1\nsim_devices =\n'
                                  'report_interval = 1\n'
                                  'enabled_drivers =\nstate_dir = %s/cons\n' % tmp)
        subprocess.run([os.path.join(BIN, 'pooling-manage'), '--config-file', root_conf, 'db',
                        'sync'], check=True, capture_output=True)
        start('conductor', root_conf, 'pooling-conductor')
        start('api', root_conf, 'pooling-api')
        # The consumer host is known to the pool (its fabric); its agent has no devices.
        start('agent-cons', root_conf, 'pooling-agent')
        fabric.add_host('cons-1', 20)
        for name, number in (('dev-a', 11), ('dev-b', 12)):
            ns, address = fabric.add_host(name, number)
            pki_dir = os.path.join(tmp, 'pki-' + name)
            os.makedirs(pki_dir)
            for f in ('ca.pem', 'ca-key.pem'):
                shutil.copy(os.path.join(tmp, 'pki-seed', f), pki_dir)
            conf = write(name, (
                '[agent]\nhost = %s\nfabric = f1\nreport_interval = 1\nstate_dir = %s/%s\n'
                'sim_devices = nvidia:A100-SXM4-80GB:81920:108:1\nremoting_backend = sim\n'
                '[gateway]\nhost = 0.0.0.0\nport = 14830\nadvertise_host = %s\n'
                'auto_pki_dir = %s\n' % (name, tmp, name, address, pki_dir)),
                transport=vhost_url.replace('127.0.0.1', fabric.net + '.1'))
            start('agent-' + name, conf, 'pooling-agent', ns)
        url = 'http://127.0.0.1:%d' % port
        _wait(url + '/v1/hosts', lambda b: len([h for h in b['hosts']
                                                 if h['state'] == 'up']) == 3, timeout=60)
        yield {'url': url, 'fabric': fabric, 'tmp': tmp, 'procs': procs}
    finally:
        for proc in procs.values():
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        relay.close()
        fabric.destroy()
        vhost.drop()


def _consumer(env, *argv, timeout=60):
    ns = env['fabric'].hosts['cons-1'][0]
    return subprocess.run(['ip', 'netns', 'exec', ns, *argv], capture_output=True, text=True,
                          timeout=timeout)


def _lease_file(env, uuid, name='lease.json', token=None):
    req_headers = dict(V11, **{'Content-Type': 'application/json'})
    import urllib.request

    req = urllib.request.Request(env['url'] + '/v1/vgpus/%s/lease' % uuid, method='POST',
                                 headers=req_headers)
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.status == 201
        doc = json.loads(resp.read())
    if token:
        doc['token'] = token
    path = os.path.join(env['tmp'], name)
    with open(path, 'w') as f:
        json.dump(doc, f)
    return path, doc


def _run(env, lease, *program, timeout=60):
    return _consumer(env, os.path.join(BIN, 'pooling'), 'run', '--lease', lease, '--',
                     *program, timeout=timeout)


def test_a_consumer_host_computes_on_a_remote_slice_and_follows_its_failover(separated):
    env = separated
    status, vgpu = _http('POST', env['url'] + '/v1/vgpus', {
        'compute_percent': 25, 'memory_mb': 4096, 'locality': 'remote-required',
        'consumer': {'platform': 'baremetal', 'host': 'cons-1', 'id': 'job-1'}})
    assert status == 201, vgpu
    uuid = vgpu['uuid']
    vgpu = _wait(env['url'] + '/v1/vgpus/' + uuid, lambda b: b['state'] in ('ACTIVE', 'ERROR'),
                 timeout=60)
    assert vgpu['state'] == 'ACTIVE', vgpu['state_reason']
    first = vgpu['slices'][0]['host']
    lease, doc = _lease_file(env, uuid)
    assert doc['endpoints'][0]['gateway'] == '%s:14830' % env['fabric'].hosts[first][1]

    # 1. A known result, computed on the remote slice.
    out = _run(env, lease, *SIMCLIENT, 'saxpy', '--n', '100000')
    assert out.returncode == 0, out.stderr
    assert 'saxpy n=100000 ok' in out.stdout

    # 2. Past the slice's memory: refused, with the limit in the message.
    out = _run(env, lease, *SIMCLIENT, 'alloc', '--mib', '5000')
    assert out.returncode != 0 and '4096 MiB' in out.stderr, out.stderr

    # 3. A wrong credential is refused by the gateway.
    wrong, _ = _lease_file(env, uuid, 'wrong.json', token='W' * 43)
    lease, doc = _lease_file(env, uuid)  # (issuing rotated the credential: take a fresh one)
    out = _run(env, wrong, 'true')
    assert out.returncode != 0 and 'refused' in out.stderr, out.stderr

    # 4. The backend's own port is not reachable from the consumer host.
    records = os.path.join(env['tmp'], first, first, 'remote')
    [record] = [json.load(open(os.path.join(records, f))) for f in os.listdir(records)]
    port = record['endpoint']['port']
    address = env['fabric'].hosts[first][1]
    def probe(port):
        return ('import socket, sys\n'
                'try:\n socket.create_connection((%r, %d), timeout=3)\n'
                'except OSError as e:\n print("refused", e); sys.exit(0)\n'
                'sys.exit(1)\n' % (address, port))
    assert _consumer(env, sys.executable, '-c', probe(port)).returncode == 0
    # ... while the gateway of the same host is.
    assert _consumer(env, sys.executable, '-c', probe(14830)).returncode == 1

    # 5. Killing the device host's agent moves the vGPU; a rerun works on the other host.
    os.killpg(env['procs']['agent-' + first].pid, signal.SIGKILL)
    moved = _wait(env['url'] + '/v1/vgpus/' + uuid,
                  lambda b: b['state'] == 'ACTIVE' and b['slices'][0]['host'] != first,
                  timeout=60)
    second = moved['slices'][0]['host']
    lease, doc = _lease_file(env, uuid)
    assert doc['endpoints'][0]['gateway'].startswith(env['fabric'].hosts[second][1])
    shown = _http_v11(env['url'] + '/v1/vgpus/' + uuid)
    assert shown['moves'][0]['from'] == [first] and shown['moves'][0]['to'] == second
    out = _run(env, lease, *SIMCLIENT, 'saxpy', '--n', '1000')
    assert out.returncode == 0 and 'ok' in out.stdout, out.stderr

    # 6. DELETE cuts a running program's connection.
    program = ('import time, sys\n'
               'from pooling_drivers.remoting import simclient\n'
               'dev = simclient.devices()[0]\n'
               'print("up", flush=True)\n'
               'try:\n'
               '    while True:\n'
               '        dev.mem_info(); time.sleep(0.05)\n'
               'except (OSError, simclient.SimError) as exc:\n'
               '    print("cut", type(exc).__name__, flush=True); sys.exit(3)\n')
    ns = env['fabric'].hosts['cons-1'][0]
    child = subprocess.Popen(['ip', 'netns', 'exec', ns, os.path.join(BIN, 'pooling'), 'run',
                              '--lease', lease, '--', sys.executable, '-c', program],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == 'up'
        assert _http('DELETE', env['url'] + '/v1/vgpus/' + uuid)[0] == 202
        assert child.wait(timeout=15) == 3
    finally:
        if child.poll() is None:
            child.kill()
    _wait(env['url'] + '/v1/vgpus/' + uuid, lambda b: b['state'] == 'DELETED', timeout=30)


def _http_v11(url):
    import urllib.request

    with urllib.request.urlopen(urllib.request.Request(url, headers=V11), timeout=10) as resp:
        return json.loads(resp.read())
