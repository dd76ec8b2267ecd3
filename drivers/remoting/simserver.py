"""The data plane of the simulated cards: one process per remote lease.

Run as ``python -m pooling_drivers.remoting.simserver --listen unix:/run/x.sock --devices
GPU-a,GPU-b --memory-mib 4096 --compute-pct 25``.  It prints ``READY <address>`` once it accepts
connections.  Device memory is host memory (numpy arrays); kernels run with numpy.  The slice is
enforced as a real backend would enforce it:

* memory: allocations of all connections on one card together never exceed ``--memory-mib``; an
  allocation past it fails with ``out_of_memory`` naming the limit;
* compute: a kernel that took ``t`` seconds holds the connection ``t * 100 / compute_pct``
  seconds in all, as if it had only that share of the card.

Each connection is a context: its allocations are freed when it closes.  Wire format:
:mod:`pooling_drivers.remoting.simproto`.
"""

from __future__ import annotations

import argparse
import itertools
import os
import signal
import socket
import sys
import threading
import time

import numpy as np

from pooling_drivers.remoting import simproto

MIB = 1048576
#: Send buffer asked for each unix-socket connection (capped by net.core.wmem_max).
UNIX_SNDBUF = 4 * MIB


class SliceError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class SimBackend:
    """State shared by the connections of one lease: cards, memory use, counters."""

    def __init__(self, devices: list[str], memory_mib: int, compute_pct: int) -> None:
        self.devices = devices
        self.limit = memory_mib * MIB
        self.memory_mib = memory_mib
        self.compute_pct = compute_pct
        self.used = [0] * len(devices)
        self.lock = threading.Lock()
        self._ptrs = itertools.count(0x10000, 0x100)
        self.bytes_in = self.bytes_out = 0
        self.open = self.total = 0
        self.last_use: float | None = None

    def allocate(self, device: int, nbytes: int) -> int:
        if not 0 <= device < len(self.devices):
            raise SliceError('bad_device', f'no device {device}; this lease has '
                                           f'{len(self.devices)}')
        if nbytes <= 0:
            raise SliceError('bad_request', f'cannot allocate {nbytes} bytes')
        with self.lock:
            if self.used[device] + nbytes > self.limit:
                raise SliceError(
                    'out_of_memory',
                    f'out of memory on device {device}: allocating {nbytes / MIB:.1f} MiB would '
                    f'exceed the slice limit of {self.memory_mib} MiB '
                    f'({self.used[device] / MIB:.1f} MiB in use)')
            self.used[device] += nbytes
            return next(self._ptrs)

    def release(self, device: int, nbytes: int) -> None:
        with self.lock:
            self.used[device] -= nbytes


class Context:
    """One connection's allocations and its dispatch of ops."""

    def __init__(self, backend: SimBackend, sock: socket.socket) -> None:
        self.backend = backend
        self.sock = sock
        self.buffers: dict[int, tuple[int, np.ndarray]] = {}
        self.control = False

    def _buf(self, ptr) -> np.ndarray:
        try:
            return self.buffers[int(ptr)][1]
        except (KeyError, TypeError, ValueError):
            raise SliceError('bad_pointer', f'no allocation at {ptr!r} in this context') from None

    def _range(self, ptr, offset, nbytes) -> memoryview:
        buf = self._buf(ptr)
        offset, nbytes = int(offset), int(nbytes)
        if offset < 0 or nbytes < 0 or offset + nbytes > buf.nbytes:
            raise SliceError('out_of_range', f'{nbytes} bytes at offset {offset} exceed the '
                                             f'allocation of {buf.nbytes} bytes')
        return memoryview(buf)[offset:offset + nbytes]

    def _f32(self, ptr, n) -> np.ndarray:
        buf = self._buf(ptr)
        n = int(n)
        if n < 0 or n * 4 > buf.nbytes:
            raise SliceError('out_of_range', f'{n} floats exceed the allocation at {ptr}')
        return buf[:n * 4].view(np.float32)

    def _throttle(self, started: float) -> float:
        spent = time.perf_counter() - started
        pct = self.backend.compute_pct
        if pct < 100:
            time.sleep(spent * (100.0 / pct - 1.0))
        return spent

    def handle(self, head: dict, plen: int):
        """Return ``(answer, payload)``; a SliceError becomes an error answer."""
        op = head.get('op')
        b = self.backend
        if op == 'nop':
            return {}, None
        if op == 'hello':
            return {'server': simproto.VERSION,
                    'devices': [{'index': i, 'uuid': u, 'memory_mib': b.memory_mib,
                                 'compute_pct': b.compute_pct}
                                for i, u in enumerate(b.devices)]}, None
        if op == 'htod':
            view = self._range(head.get('ptr'), head.get('offset', 0), plen)
            simproto.recv_into_exact(self.sock, view)
            return {}, None
        if op == 'dtoh':
            return {}, self._range(head.get('ptr'), head.get('offset', 0), head.get('nbytes', 0))
        if op == 'malloc':
            device, nbytes = int(head.get('device', 0)), int(head.get('nbytes', 0))
            ptr = b.allocate(device, nbytes)
            self.buffers[ptr] = (device, np.zeros(nbytes, dtype=np.uint8))
            return {'ptr': ptr}, None
        if op == 'free':
            ptr = int(head.get('ptr', -1))
            self._buf(ptr)
            device, buf = self.buffers.pop(ptr)
            b.release(device, buf.nbytes)
            return {}, None
        if op == 'mem_info':
            device = int(head.get('device', 0))
            if not 0 <= device < len(b.devices):
                raise SliceError('bad_device', f'no device {device}')
            return {'free': b.limit - b.used[device], 'total': b.limit}, None
        if op == 'saxpy':
            n = head.get('n', 0)
            x, y = self._f32(head.get('x'), n), self._f32(head.get('y'), n)
            started = time.perf_counter()
            y += np.float32(head.get('a', 1.0)) * x
            return {'kernel_s': self._throttle(started)}, None
        if op == 'matmul':
            m, k, n = int(head['m']), int(head['k']), int(head['n'])
            a = self._f32(head['a'], m * k).reshape(m, k)
            bm = self._f32(head['b'], k * n).reshape(k, n)
            c = self._f32(head['c'], m * n).reshape(m, n)
            started = time.perf_counter()
            np.matmul(a, bm, out=c)
            return {'kernel_s': self._throttle(started)}, None
        if op == 'stats':
            self.control = True
            with b.lock:
                return {'bytes_in': b.bytes_in, 'bytes_out': b.bytes_out,
                        'connections': b.open, 'connections_total': b.total,
                        'last_use': b.last_use, 'used': list(b.used)}, None
        raise SliceError('bad_op', f'unknown op {op!r}')

    def free_all(self) -> None:
        for device, buf in self.buffers.values():
            self.backend.release(device, buf.nbytes)
        self.buffers.clear()


def serve_connection(backend: SimBackend, sock: socket.socket) -> None:
    ctx = Context(backend, sock)
    counted = False
    try:
        while True:
            try:
                head, plen = simproto.read_message(sock)
            except (ConnectionError, OSError):
                return
            if not counted and head.get('op') != 'stats':
                counted = True
                with backend.lock:
                    backend.open += 1
                    backend.total += 1
            try:
                answer, payload = ctx.handle(head, plen)
                answer['ok'] = True
                if head.get('op') != 'htod':
                    _skip(sock, plen)
            except SliceError as exc:
                _skip(sock, plen)
                answer, payload = {'ok': False, 'code': exc.code, 'error': str(exc)}, None
            except (KeyError, TypeError, ValueError) as exc:
                _skip(sock, plen)
                answer, payload = {'ok': False, 'code': 'bad_request', 'error': repr(exc)}, None
            sent = simproto.send_message(sock, answer, payload)
            if counted:
                with backend.lock:
                    backend.bytes_in += simproto.HEADER.size + plen
                    backend.bytes_out += sent
                    backend.last_use = time.time()
    except (ConnectionError, OSError, simproto.ProtocolError):
        return
    finally:
        ctx.free_all()
        if counted:
            with backend.lock:
                backend.open -= 1
        sock.close()


def _skip(sock: socket.socket, n: int) -> None:
    while n > 0:
        got = len(sock.recv(min(n, 1048576)))
        if not got:
            raise ConnectionError('connection closed')
        n -= got


def listen(address: str) -> socket.socket:
    if address.startswith('unix:'):
        path = address[5:]
        if os.path.exists(path):
            os.unlink(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)  # only the agent's user reaches the backend
        try:
            sock.bind(path)
        finally:
            os.umask(old)
        sock.listen(64)
        return sock
    host, _, port = address.removeprefix('tcp:').rpartition(':')
    if not (host.startswith('127.') or host == '::1'):
        raise SystemExit(f'the sim backend listens on loopback only, not {host!r}')
    return socket.create_server((host, int(port)), backlog=64)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--listen', required=True, action='append',
                        help='unix:/path or 127.0.0.1:port; repeat to listen on several (the '
                             'first is printed as READY <address>, others as ALSO <address>)')
    parser.add_argument('--devices', required=True, help='visible uuids, comma separated')
    parser.add_argument('--memory-mib', type=int, required=True)
    parser.add_argument('--compute-pct', type=int, default=100)
    args = parser.parse_args(argv)
    if not 1 <= args.compute_pct <= 100:
        parser.error('--compute-pct must be 1..100')
    backend = SimBackend([d for d in args.devices.split(',') if d], args.memory_mib,
                         args.compute_pct)
    listeners = [listen(address) for address in args.listen]
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    for i, listener in enumerate(listeners):
        if listener.family == socket.AF_UNIX:
            address = 'unix:' + listener.getsockname()
        else:
            address = '%s:%d' % listener.getsockname()[:2]
        print('ALSO' if i else 'READY', address, flush=True)
    for listener in listeners[1:]:
        threading.Thread(target=_accept_loop, args=(backend, listener), daemon=True).start()
    _accept_loop(backend, listeners[0])
    return 0


def _accept_loop(backend: SimBackend, listener: socket.socket) -> None:
    while True:
        conn, _ = listener.accept()
        if conn.family != socket.AF_UNIX:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        else:
            # NOTE: a unix socket's send buffer (~208 KiB) bounds every read of the gateway;
            # ask what TCP's autotuning reaches on loopback, so bulk answers move in MiBs.
            try:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, UNIX_SNDBUF)
            except OSError:
                pass
        threading.Thread(target=serve_connection, args=(backend, conn), daemon=True).start()


if __name__ == '__main__':
    sys.exit(main())
