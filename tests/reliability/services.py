"""Private MariaDB and RabbitMQ instances the fault suite may kill and restart.

Each runs from a temporary directory on free loopback ports, in a session of
its own (so it is stopped by its own process group), with its own Erlang
port mapper for RabbitMQ. The machine's own MariaDB, PostgreSQL and RabbitMQ
are never touched.
"""

import contextlib
import os
from pathlib import Path
import signal
import socket
import subprocess
import time

import pymysql

from bench import api_load_services as bench


def _port_open(port: int) -> bool:
    with contextlib.closing(socket.socket()) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(('127.0.0.1', port)) == 0


def _wait_port(port: int, proc, what: str, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not _port_open(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError('%s did not start:\n%s' % (what, log.read_text()[-3000:]))
        time.sleep(0.1)


def _killpg(proc, sig) -> None:
    if proc is not None and proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(30)


class MariaDB:
    """mariadbd on its own datadir and port (no grant tables: root, no password)."""

    def __init__(self, work: Path):
        self.dir = work / 'mariadb'
        self.port = bench.free_port()
        self.proc = None

    def start(self) -> 'MariaDB':
        if not (self.dir / 'mysql').exists():
            self.dir.mkdir(parents=True, exist_ok=True)
            subprocess.run(['mariadb-install-db', '--no-defaults', '--datadir=%s' % self.dir,
                            '--user=root', '--auth-root-authentication-method=normal',
                            '--skip-test-db'], check=True, capture_output=True)
        log = self.dir.parent / 'mariadb.err'
        self.proc = subprocess.Popen(
            ['mariadbd', '--no-defaults', '--datadir=%s' % self.dir, '--user=root',
             '--port=%d' % self.port, '--bind-address=127.0.0.1',
             '--socket=%s/mysqld.sock' % self.dir, '--pid-file=%s/mysqld.pid' % self.dir,
             '--skip-grant-tables', '--innodb-buffer-pool-size=64M', '--max-connections=500',
             '--log-error=%s' % log],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
        _wait_port(self.port, self.proc, 'MariaDB', log)
        return self

    def url(self, name: str) -> str:
        conn = pymysql.connect(host='127.0.0.1', port=self.port, user='root')
        with conn.cursor() as cur:
            cur.execute('CREATE DATABASE IF NOT EXISTS `%s` CHARACTER SET utf8mb4' % name)
        conn.close()
        return 'mysql+pymysql://root@127.0.0.1:%d/%s?charset=utf8mb4' % (self.port, name)

    def kill(self) -> None:
        """kill -9: what a crash or an OOM kill does."""
        _killpg(self.proc, signal.SIGKILL)

    def stop(self) -> None:
        _killpg(self.proc, signal.SIGTERM)


class RabbitMQ:
    """rabbitmq-server with its own node name, ports, Mnesia directory and port mapper."""

    def __init__(self, work: Path):
        self.dir = work / 'rabbitmq'
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = bench.free_port()
        self.epmd_port = bench.free_port()
        self.dist_port = bench.free_port()
        self.node = 'pooling-rel-%d@localhost' % self.port
        (self.dir / 'enabled_plugins').write_text('[].\n')
        (self.dir / 'rabbitmq.conf').write_text(
            'listeners.tcp.default = %d\nloopback_users = none\n' % self.port)
        self.proc = None

    def _env(self) -> dict:
        d = self.dir
        return dict(os.environ, HOME=str(d), RABBITMQ_NODENAME=self.node,
                    RABBITMQ_NODE_PORT=str(self.port), RABBITMQ_DIST_PORT=str(self.dist_port),
                    ERL_EPMD_PORT=str(self.epmd_port), RABBITMQ_MNESIA_BASE=str(d / 'mnesia'),
                    RABBITMQ_LOG_BASE=str(d / 'log'), RABBITMQ_CONFIG_FILE=str(d / 'rabbitmq'),
                    RABBITMQ_ENABLED_PLUGINS_FILE=str(d / 'enabled_plugins'),
                    RABBITMQ_PID_FILE=str(d / 'pid'))

    def start(self) -> 'RabbitMQ':
        log = self.dir / 'server.log'
        binary = '/usr/lib/rabbitmq/bin/rabbitmq-server'
        if not os.path.exists(binary):
            binary = 'rabbitmq-server'
        self.proc = subprocess.Popen([binary], env=self._env(), stdout=open(log, 'ab'),  # noqa: SIM115
                                     stderr=subprocess.STDOUT, start_new_session=True)
        _wait_port(self.port, self.proc, 'RabbitMQ', log)
        return self

    @property
    def url(self) -> str:
        return 'rabbit://guest:guest@127.0.0.1:%d/' % self.port

    def kill(self) -> None:
        _killpg(self.proc, signal.SIGKILL)

    def stop(self) -> None:
        _killpg(self.proc, signal.SIGTERM)
        # our own port mapper, started detached by the first node on its port
        subprocess.run(['epmd', '-port', str(self.epmd_port), '-kill'], env=self._env(),
                       capture_output=True)
