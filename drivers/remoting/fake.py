"""The ``fake`` remoting plugin: an in-process echo backend per lease, for tests of its users.

It keeps the whole contract with real sockets -- each lease listens on its own loopback port,
echoes every byte back, counts bytes and connections -- so the agent's and the gateway's tests
see the same behaviour as with a real backend, without a process per lease.  ``crash`` plays a
backend that died and could not be restarted (it closes the listener and calls ``on_degraded``).
Nothing here touches an accelerator.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
import socket
import threading
import time
from typing import Any

from pooling_drivers.remoting import base


class _EchoLease:
    def __init__(self, request: base.RemoteSliceRequest) -> None:
        self.request = request
        self.listener = socket.create_server(('127.0.0.1', 0))
        self.endpoint = base.BackendEndpoint('tcp', host='127.0.0.1',
                                             port=self.listener.getsockname()[1])
        self.lock = threading.Lock()
        self.bytes = 0
        self.open = 0
        self.total = 0
        self.last_use: float | None = None
        self.state = base.RUNNING
        self.detail = ''
        self.conns: set[socket.socket] = set()
        threading.Thread(target=self._accept, name=f'fake-remoting-{request.lease_id}',
                         daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.open += 1
                self.total += 1
                self.last_use = time.time()
                self.conns.add(conn)
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    def _echo(self, conn: socket.socket) -> None:
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                with self.lock:  # counted before the echo, so a caller that saw it sees this
                    self.bytes += len(data)
                    self.last_use = time.time()
                conn.sendall(data)
        except OSError:
            pass
        finally:
            conn.close()
            with self.lock:
                self.open -= 1
                self.conns.discard(conn)

    def close(self) -> None:
        try:  # NOTE: wakes the thread blocked in accept(); close() alone would not
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        with self.lock:
            conns = list(self.conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class FakeDriver(base.RemotingDriver):
    """Echo backends on loopback; ``options`` are ignored."""

    name = 'fake'
    protocol = 'fake'

    def __init__(self, options: Mapping[str, Any] | None = None,
                 on_degraded: base.DegradedCallback | None = None) -> None:
        super().__init__(options, on_degraded)
        self._leases: dict[str, _EchoLease] = {}
        self._lock = threading.Lock()

    def start(self, request: base.RemoteSliceRequest) -> base.BackendEndpoint:
        with self._lock:
            lease = self._leases.get(request.lease_id)
            if lease is not None:
                if lease.request != request:
                    raise base.RemotingError(
                        f'lease {request.lease_id} runs already with another request')
                return lease.endpoint
            lease = self._leases[request.lease_id] = _EchoLease(request)
            return lease.endpoint

    def stop(self, lease_id: str) -> None:
        with self._lock:
            lease = self._leases.pop(lease_id, None)
        if lease is not None:
            lease.close()

    def _get(self, lease_id: str) -> _EchoLease:
        with self._lock:
            lease = self._leases.get(lease_id)
        if lease is None:
            raise base.LeaseNotFound(f'no fake backend for lease {lease_id}')
        return lease

    def health(self, lease_id: str) -> base.BackendHealth:
        lease = self._get(lease_id)
        return base.BackendHealth(lease_id, lease.state, pid=None, detail=lease.detail)

    def counters(self, lease_id: str) -> base.LeaseCounters:
        lease = self._get(lease_id)
        with lease.lock:
            return base.LeaseCounters(lease_id, bytes_in=lease.bytes, bytes_out=lease.bytes,
                                      connections=lease.open, connections_total=lease.total,
                                      last_use=lease.last_use)

    def leases(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(self._leases)

    def crash(self, lease_id: str, reason: str = 'fake backend crashed') -> None:
        """Test hook: the backend dies for good; ``on_degraded`` is called."""
        lease = self._get(lease_id)
        lease.close()
        lease.state, lease.detail = base.DEGRADED, reason
        if self.on_degraded is not None:
            self.on_degraded(lease_id, reason)

    @classmethod
    def client_env(cls, local_addresses: Sequence[str],
                   options: Mapping[str, Any] | None = None) -> dict[str, str]:
        return {'POOLING_FAKE_SERVER': ','.join(local_addresses)}
