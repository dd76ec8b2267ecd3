"""Slow bodies do not take the API down: real sockets against the real servers.

pooling-api runs as deployed (gunicorn, gthread workers) with its own
process, database and config; clients connect over TCP and trickle their
bodies a byte at a time. Two deployments, as the admin guide describes:

* pooling-api alone: ``[api] body_read_timeout`` bounds how long one body
  may take, so a trickling client gets a 408 and its thread back; health
  checks wait at most about that long.
* nginx in front, with etc/pooling/nginx/pooling-api.conf as shipped: nginx
  reads bodies whole before pooling-api sees them, so 64 trickling clients
  hold no handler thread at all and health checks answer at once.

Before (issue 13, item 6) 16 such connections held all 16 handler threads
for over 70 s and health checks timed out; both tests failed then.
"""

import http.client
import os
from pathlib import Path
import re
import shutil
import socket
import subprocess
import threading
import time
import uuid

import pytest

from bench import api_load_services as services

ROOT = Path(__file__).resolve().parents[2]
READ_TIMEOUT = 2.0


class Trickler:
    """A client that announces a body and sends it one byte every ``interval``."""

    def __init__(self, port, path='/v1/pools', length=2000, interval=0.5, reconnect=False):
        self.port, self.path, self.length = port, path, length
        self.interval, self.reconnect = interval, reconnect
        self.stop = threading.Event()
        self.answers = []  # (status line or error, seconds the connection lived)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _once(self):
        started = time.monotonic()
        sock = socket.create_connection(('127.0.0.1', self.port), timeout=30)
        sock.sendall(('POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'
                      'X-Project-Id: p1\r\nX-Roles: admin\r\nContent-Length: %d\r\n\r\n'
                      % (self.path, self.length)).encode())
        sock.setblocking(False)
        answer = None
        try:
            for _ in range(self.length):
                if self.stop.wait(self.interval):
                    break
                try:
                    data = sock.recv(4096)
                    answer = data.split(b'\r\n', 1)[0].decode() if data else 'closed'
                    break
                except BlockingIOError:
                    pass
                sock.send(b' ')
        except OSError as err:
            answer = 'error: %s' % err
        finally:
            sock.close()
        self.answers.append((answer, time.monotonic() - started))

    def _run(self):
        while not self.stop.is_set():
            try:
                self._once()
            except OSError as err:
                self.answers.append(('connect error: %s' % err, 0))
                self.stop.wait(0.1)
            if not self.reconnect:
                return


def health(port, timeout=15.0):
    """(status, seconds) of one GET /healthcheck."""
    started = time.monotonic()
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=timeout)
    try:
        conn.request('GET', '/healthcheck')
        status = conn.getresponse().status
    except OSError:
        status = None
    finally:
        conn.close()
    return status, time.monotonic() - started


@pytest.fixture(scope='module')
def api_port(tmp_path_factory):
    work = tmp_path_factory.mktemp('slow-bodies')
    procs = services.Processes(work / 'logs')
    try:
        db_url = services.fresh_database('pooling_slow', procs=procs)
        port = services.free_port()
        conf = work / 'pooling.conf'
        conf.write_text(
            '[DEFAULT]\ntransport_url = %s\ncontrol_exchange = pooling-slow-%s\n'
            '[database]\nconnection = %s\n'
            '[api]\nhost = 127.0.0.1\nport = %d\nworkers = 1\nthreads = 4\n'
            'auth_strategy = noauth\nbody_read_timeout = %s\n'
            '[oslo_middleware]\nenable_proxy_headers_parsing = true\n'
            % (services.RABBIT_URL, uuid.uuid4().hex[:8], db_url, port, READ_TIMEOUT))
        subprocess.run([services._script('pooling-manage'), '--config-file', str(conf), 'db',
                        'sync'], check=True, stdout=subprocess.DEVNULL)
        procs.start('pooling-api', [services._script('pooling-api'), '--config-file',
                                    str(conf)])
        services.wait_http(port, '/healthcheck', procs)
        yield port
    finally:
        procs.stop()


@pytest.fixture(scope='module')
def nginx_port(api_port, tmp_path_factory):
    binary = shutil.which('nginx') or '/usr/sbin/nginx'
    if not os.path.exists(binary):
        pytest.skip('nginx is not installed (tools/ci-deps.sh installs it)')
    work = tmp_path_factory.mktemp('nginx')
    work.chmod(0o777)  # nginx's workers drop root for nobody
    port = services.free_port()
    server = (ROOT / 'etc/pooling/nginx/pooling-api.conf').read_text()
    server = re.sub(r'server 127\.0\.0\.1:\d+;', 'server 127.0.0.1:%d;' % api_port, server)
    server = re.sub(r'listen \d+;', 'listen 127.0.0.1:%d;' % port, server)
    (work / 'pooling-api.conf').write_text(server)
    (work / 'nginx.conf').write_text(
        'worker_processes 1;\ndaemon off;\npid %(w)s/nginx.pid;\nerror_log %(w)s/error.log;\n'
        'events { worker_connections 1024; }\n'
        'http {\n  access_log off;\n  client_body_temp_path %(w)s/body;\n'
        '  proxy_temp_path %(w)s/proxy;\n  include %(w)s/pooling-api.conf;\n}\n'
        % {'w': work})
    proc = subprocess.Popen([binary, '-p', str(work), '-c', str(work / 'nginx.conf')],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while health(port, 2)[0] != 200:
            assert proc.poll() is None, (work / 'error.log').read_text()
            assert time.monotonic() < deadline, 'nginx did not answer'
            time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def test_pooling_api_alone_bounds_body_read_time(api_port):
    """8 trickling clients on 4 threads: each gets a 408 and health checks get through."""
    clients = [Trickler(api_port) for _ in range(8)]
    for c in clients:
        c.thread.start()
    time.sleep(0.5)
    try:
        status, took = health(api_port)
        assert status == 200 and took < 2 * READ_TIMEOUT + 3, (status, took)
        for c in clients:
            c.thread.join(READ_TIMEOUT * 3 + 5)
        for answer, lived in (a for c in clients for a in c.answers):
            assert answer in ('HTTP/1.1 408 Request Timeout', 'closed'), answer
            assert lived < 2 * READ_TIMEOUT + 3, lived
    finally:
        for c in clients:
            c.stop.set()
    status, took = health(api_port)
    assert status == 200 and took < 1


def test_behind_nginx_health_checks_keep_answering(api_port, nginx_port):
    """64 clients trickling without end through nginx; health checks answer at once."""
    clients = [Trickler(nginx_port, reconnect=True) for _ in range(64)]
    for c in clients:
        c.thread.start()
    try:
        time.sleep(1)
        latencies = []
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:
            status, took = health(nginx_port, 5)
            assert status == 200, 'health check failed during the attack'
            latencies.append(took)
            time.sleep(0.2)
        # and real work still goes through, body and all
        conn = http.client.HTTPConnection('127.0.0.1', nginx_port, timeout=10)
        conn.request('POST', '/v1/pools', body=b'{"name": "during-attack"}',
                     headers={'Content-Type': 'application/json'})
        assert conn.getresponse().status == 201
        # the trickling clients are still connected to nginx, not answered
        assert not [a for c in clients for a in c.answers], 'nginx dropped a slow client'
    finally:
        for c in clients:
            c.stop.set()
    latencies.sort()
    assert latencies[-1] < 1.0, latencies
    print('health check latency during 64 slow bodies via nginx: median %.1f ms, max %.1f ms'
          % (latencies[len(latencies) // 2] * 1000, latencies[-1] * 1000))
