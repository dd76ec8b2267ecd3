"""Real processes killed with SIGKILL: a conductor's work and an agent's slices survive it.

* Two pooling-conductors share the database and RabbitMQ; the one preparing a
  vGPU is killed while its agent does not answer: the other finishes the vGPU
  within seconds (``[conductor] takeover_after``), far before ``stuck_after``.
* An agent with a MIG and two MPS slices prepared on the ``sim`` driver is
  killed; the pool drops two of them meanwhile; the restarted agent adopts the
  one still held and releases the others (the MIG instance is destroyed, the
  MPS daemon keeps serving the kept slice and quits after its release).
The MPS control program is a stand-in script (no GPU here) that keeps the
pipe folder's ``control`` file as nvidia-cuda-mps-control does and logs calls.
"""

import os
import signal
import stat
import subprocess
import sys
import tempfile
import time

import pytest
import sqlalchemy as sa

from tests.functional import fixtures
from tests.functional import test_claim_race
from tests.functional.test_processes import _http
from tests.functional.test_processes import _wait

BIN = os.path.dirname(sys.executable)

MPS_STANDIN = '''#!/bin/sh
# Stand-in for nvidia-cuda-mps-control: -d starts "the daemon" (a control file in the
# pipe folder), "quit" on stdin stops it; every call is logged.
if [ "$1" = "-d" ]; then
  mkdir -p "$CUDA_MPS_PIPE_DIRECTORY" && touch "$CUDA_MPS_PIPE_DIRECTORY/control"
  echo "start $CUDA_MPS_PIPE_DIRECTORY" >> "%(log)s"
else
  read line
  [ "$line" = "quit" ] && rm -f "$CUDA_MPS_PIPE_DIRECTORY/control"
  echo "$line $CUDA_MPS_PIPE_DIRECTORY" >> "%(log)s"
fi
'''


class Cluster:
    def __init__(self, db_url, extra=''):
        self.vhost = fixtures.RabbitVhost()
        self.tmp = tempfile.mkdtemp(prefix='pooling-takeover-')
        self.port = test_claim_race._free_port()
        self.mps_log = os.path.join(self.tmp, 'mps.log')
        script = os.path.join(self.tmp, 'mps-control')
        with open(script, 'w') as f:
            f.write(MPS_STANDIN % {'log': self.mps_log})
        os.chmod(script, stat.S_IRWXU)
        self.state_dir = os.path.join(self.tmp, 'agent')
        self.conf = os.path.join(self.tmp, 'pooling.conf')
        with open(self.conf, 'w') as f:
            f.write('[DEFAULT]\ntransport_url = %s\n[database]\nconnection = %s\n'
                    '[api]\nport = %d\nauth_strategy = noauth\nworkers = 1\n'
                    '[agent]\nhost = proc-gpu\nreport_interval = 1\nstate_dir = %s\n'
                    'sim_devices = nvidia:A100-SXM4-80GB:81920:108:1\n'
                    'remoting_backend = fake\n'
                    '[mps]\ncontrol = %s\nrun_dir = %s\n'
                    '[gateway]\nhost = 127.0.0.1\nport = 0\nauto_pki_dir = %s\n'
                    '[conductor]\nreconcile_interval = 1\ntakeover_after = 4\n'
                    'heartbeat_interval = 1\n%s'
                    % (self.vhost.create(), db_url, self.port, self.state_dir, script,
                       os.path.join(self.tmp, 'mps'), os.path.join(self.tmp, 'pki'), extra))
        subprocess.run([os.path.join(BIN, 'pooling-manage'), '--config-file', self.conf,
                        'db', 'sync'], check=True, capture_output=True)
        self.procs = {}
        self.url = 'http://127.0.0.1:%d' % self.port
        self.engine = sa.create_engine(db_url)

    def start(self, name, binary):
        log = open(os.path.join(self.tmp, name + '.log'), 'a')
        self.procs[name] = subprocess.Popen(
            [os.path.join(BIN, binary), '--config-file', self.conf], stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True)
        return self.procs[name]

    def kill(self, name, sig=signal.SIGKILL):
        proc = self.procs[name]
        os.killpg(proc.pid, sig)
        if sig == signal.SIGKILL:
            proc.wait(10)
            del self.procs[name]

    def stop(self):
        for proc in self.procs.values():
            try:
                os.killpg(proc.pid, signal.SIGCONT)
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in self.procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        self.engine.dispose()
        self.vhost.drop()

    def column(self, uuid, name):
        with self.engine.connect() as conn:
            return conn.execute(sa.text('SELECT %s FROM vgpus WHERE uuid = :u' % name),
                                {'u': uuid}).scalar()

    def create(self, **body):
        status, vgpu = _http('POST', self.url + '/v1/vgpus', body)
        assert status == 201, vgpu
        return vgpu['uuid']

    def state(self, uuid):
        return _http('GET', self.url + '/v1/vgpus/' + uuid)[1]['state']


@pytest.fixture
def cluster(mysql_db, request):
    made = []

    def make(extra=''):
        made.append(Cluster(mysql_db.url, extra))
        return made[-1]
    yield make
    for c in made:
        c.stop()


def test_another_conductor_takes_over_a_killed_conductors_work_in_seconds(cluster):
    c = cluster('stuck_after = 600\nagent_timeout = 60\nprepare_timeout = 600\n')
    one = c.start('conductor-1', 'pooling-conductor')
    two = c.start('conductor-2', 'pooling-conductor')
    c.start('agent', 'pooling-agent')
    c.start('api', 'pooling-api')
    _wait(c.url + '/v1/hosts', lambda b: len(b['hosts']) == 1 and
          b['hosts'][0]['state'] == 'up')
    c.kill('agent', signal.SIGSTOP)  # its calls now hang for agent_timeout (60 s)
    uuid = c.create(compute_percent=10, memory_mb=1024)
    deadline = time.monotonic() + 20
    while c.column(uuid, 'conductor') is None and time.monotonic() < deadline:
        time.sleep(0.2)
    owner = c.column(uuid, 'conductor')
    assert owner and c.state(uuid) == 'PREPARING'
    victim = 'conductor-1' if owner.endswith(':%d' % one.pid) else 'conductor-2'
    assert owner.endswith(':%d' % (one.pid if victim == 'conductor-1' else two.pid))
    c.kill(victim)
    killed = time.monotonic()
    c.kill('agent', signal.SIGCONT)
    _wait(c.url + '/v1/vgpus/' + uuid, lambda b: b['state'] == 'ACTIVE', timeout=30)
    took = time.monotonic() - killed
    # takeover_after (4 s) + a heartbeat tick, not stuck_after (600 s) nor agent_timeout.
    assert took < 15, took
    assert c.column(uuid, 'conductor') != owner


def _mps_log(c):
    try:
        with open(c.mps_log) as f:
            return [line.split()[0] for line in f]
    except FileNotFoundError:
        return []


def _partitions(c):
    import json

    path = os.path.join(c.state_dir, 'proc-gpu', 'sim-partitions.json')
    with open(path) as f:
        return [p['uuid'] for parts in json.load(f)['partitions'].values() for p in parts]


def test_a_killed_agent_adopts_its_mig_and_mps_slices_and_releases_the_dropped(cluster):
    c = cluster('host_down_after = 4\nagent_timeout = 3\n')
    c.start('conductor', 'pooling-conductor')
    c.start('agent', 'pooling-agent')
    c.start('api', 'pooling-api')
    hosts = _wait(c.url + '/v1/devices', lambda b: len(b['devices']) == 1)
    assert 'firm' in hosts['devices'][0]['isolation']  # the MPS control program is there
    mig = c.create(compute_percent=14, memory_mb=9000, isolation='hard')
    firm_dropped = c.create(compute_percent=10, memory_mb=1024, isolation='firm')
    firm_kept = c.create(compute_percent=10, memory_mb=1024, isolation='firm')
    for uuid in (mig, firm_dropped, firm_kept):
        _wait(c.url + '/v1/vgpus/' + uuid, lambda b: b['state'] == 'ACTIVE')
    assert len(_partitions(c)) == 1 and _mps_log(c) == ['start']

    c.kill('agent')
    _wait(c.url + '/v1/hosts', lambda b: b['hosts'][0]['state'] == 'down', timeout=20)
    for uuid in (mig, firm_dropped):
        assert _http('DELETE', c.url + '/v1/vgpus/' + uuid)[0] == 202
        _wait(c.url + '/v1/vgpus/' + uuid, lambda b: b['state'] == 'DELETED')
    # The pool gave the capacity back; the card still holds the MIG instance.
    assert len(_partitions(c)) == 1

    c.start('agent', 'pooling-agent')
    _wait(c.url + '/v1/hosts', lambda b: b['hosts'][0]['state'] == 'up', timeout=20)
    deadline = time.monotonic() + 20
    while _partitions(c) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert _partitions(c) == []  # released: the pool no longer holds it
    assert _mps_log(c) == ['start']  # the kept MPS slice still uses the daemon
    assert c.state(firm_kept) == 'ACTIVE'
    assert _http('DELETE', c.url + '/v1/vgpus/' + firm_kept)[0] == 202
    _wait(c.url + '/v1/vgpus/' + firm_kept, lambda b: b['state'] == 'DELETED')
    assert _mps_log(c) == ['start', 'quit']  # adopted client table: quit after the last
