"""Confinement of backends that bind every address: a private network namespace per process.

LUPINE's server binds ``0.0.0.0`` with no authentication and no bind-address option.  We start
it with ``unshare --net`` (a new network namespace holding only its own loopback, brought up with
``ip link set lo up``), so its port exists nowhere on the host's networks.  The agent reaches it
through a :class:`Relay`: a unix socket (mode 0600) in the agent's run folder whose each
connection is spliced, one to one, to a TCP connection made *inside* the backend's namespace
(``setns`` on the relaying thread only for the ``socket()`` call -- a socket belongs to the
namespace it was created in).  The relay also counts each lease's bytes and connections.

Needs ``CAP_SYS_ADMIN`` (the agent runs as root on device hosts) and the ``unshare`` (util-linux)
and ``ip`` (iproute2) programs.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import shutil
import socket
import threading
import time

from pooling_drivers.remoting import base
from pooling_drivers.remoting import splice

LOG = logging.getLogger(__name__)
CLONE_NEWNET = 0x40000000
_libc = None


def _setns(fd: int) -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6', use_errno=True)
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f'setns: {os.strerror(err)}')


def available() -> str | None:
    """``None`` when namespaces can be used here, else the reason they cannot."""
    for tool in ('unshare', 'ip'):
        if shutil.which(tool) is None:
            return f'{tool} is not installed'
    if not os.path.exists('/proc/thread-self/ns/net'):
        return 'no /proc/thread-self/ns/net'
    if os.geteuid() != 0:
        return 'not running as root (network namespaces need CAP_SYS_ADMIN)'
    return None


def wrap(argv: list[str]) -> list[str]:
    """``argv`` run in a new network namespace with its loopback up (the pid stays the same)."""
    return ['unshare', '--net', '--', 'sh', '-c', 'ip link set lo up && exec "$0" "$@"'] + argv


def connect_in(pid: int | None, port: int, timeout: float = 5.0) -> socket.socket:
    """A TCP connection to ``127.0.0.1:port`` in the network namespace of ``pid``.

    With ``pid`` ``None``, in ours.
    """
    if pid is None:
        sock = socket.create_connection(('127.0.0.1', port), timeout=timeout)
    else:
        target = os.open(f'/proc/{pid}/ns/net', os.O_RDONLY)
        own = os.open('/proc/thread-self/ns/net', os.O_RDONLY)
        try:
            _setns(target)
            try:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            finally:
                _setns(own)
        finally:
            os.close(target)
            os.close(own)
        sock.settimeout(timeout)
        try:
            sock.connect(('127.0.0.1', port))
        except OSError:
            sock.close()
            raise
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.settimeout(None)
    return sock


class Relay:
    """Unix socket ``path`` -> ``127.0.0.1:port`` in the namespace of ``pid_of()``; counts."""

    def __init__(self, lease_id: str, path: str, port: int, pid_of) -> None:
        self.lease_id = lease_id
        self.path = path
        self.port = port
        self._pid_of = pid_of
        if os.path.exists(path):
            os.unlink(path)
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            self._listener.bind(path)
        finally:
            os.umask(old)
        self._listener.listen(64)
        self.endpoint = base.BackendEndpoint('unix', path=path)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._pairs: set = set()
        self.bytes_in = self.bytes_out = self.total = 0
        self.last_use: float | None = None
        threading.Thread(target=self._accept, daemon=True,
                         name=f'remoting-relay-{lease_id}').start()

    def counters(self) -> base.LeaseCounters:
        with self._lock:
            return base.LeaseCounters(self.lease_id, self.bytes_in, self.bytes_out,
                                      len(self._pairs), self.total, self.last_use)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            upstream = connect_in(self._pid_of(), self.port)
        except OSError as exc:
            LOG.warning('Relay of lease %s: backend does not answer: %s', self.lease_id, exc)
            conn.close()
            return
        pair = (splice.End(conn), splice.End(upstream))
        with self._lock:
            self._pairs.add(pair)
            self.total += 1
            self.last_use = time.time()

        def count_in(n: int) -> None:
            self.bytes_in += n
            self.last_use = time.time()

        def count_out(n: int) -> None:
            self.bytes_out += n
            self.last_use = time.time()

        try:
            splice.splice(pair[0], pair[1], self._stop, count_in, count_out)
        finally:
            with self._lock:
                self._pairs.discard(pair)

    def close(self) -> None:
        splice.close_relay(self._listener, self._stop, self._lock, self._pairs)
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
