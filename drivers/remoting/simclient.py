"""Client library of the simulated cards' data plane: what a tenant program uses.

``devices()`` reads ``POOLING_SIM_SERVER`` (``host:port[,host:port...]`` in card order, as
``pooling run`` sets it), opens one connection (one context) per server and lists the cards in
order::

    from pooling_drivers.remoting import simclient
    dev = simclient.devices()[0]
    x = dev.upload(np.arange(n, dtype=np.float32))
    y = dev.upload(np.ones(n, dtype=np.float32))
    dev.saxpy(2.0, x, y, n)
    result = dev.download(y, np.float32, n)

``python -m pooling_drivers.remoting.simclient saxpy|alloc|info`` is a small program that does
that and exits non-zero on a wrong result or an error (for tests and smoke checks).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import socket
import sys
import threading

import numpy as np

from pooling_drivers.remoting import simproto

ENV = 'POOLING_SIM_SERVER'


class SimError(Exception):
    """The backend refused an op; ``code`` says why (``out_of_memory``, ``bad_pointer`` ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class OutOfMemory(SimError):
    """An allocation exceeded the slice's memory limit."""


class Connection:
    """One connection = one context on one server.  Thread-safe (one call at a time)."""

    def __init__(self, address: str, timeout: float | None = 30.0) -> None:
        if address.startswith('unix:'):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(address[5:])
        else:
            host, _, port = address.rpartition(':')
            self.sock = socket.create_connection((host.strip('[]'), int(port)), timeout=timeout)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(None)
        self.address = address
        self._lock = threading.Lock()

    def call(self, op: str, payload=None, into: memoryview | None = None, **args) -> dict:
        """Send one request and wait for its answer.

        :param into: where a returned payload goes (must be exactly its size); without it the
            payload is returned under ``"payload"`` as bytes.
        :raises SimError: the backend refused. :raises ConnectionError: the link broke.
        """
        with self._lock:
            simproto.send_message(self.sock, dict(args, op=op), payload)
            head, plen = simproto.read_message(self.sock)
            if plen:
                if into is not None and len(into) == plen:
                    simproto.recv_into_exact(self.sock, into)
                else:
                    head['payload'] = simproto.recv_exact(self.sock, plen)
        if not head.get('ok'):
            cls = OutOfMemory if head.get('code') == 'out_of_memory' else SimError
            raise cls(head.get('code', 'error'), head.get('error', 'unknown error'))
        return head

    def close(self) -> None:
        self.sock.close()


@dataclasses.dataclass(frozen=True)
class Buffer:
    ptr: int
    nbytes: int


class Device:
    """One simulated card reached through ``conn``; ``local`` is its index on that server."""

    def __init__(self, conn: Connection, local: int, uuid: str, memory_mib: int,
                 compute_pct: int) -> None:
        self.conn, self.local, self.uuid = conn, local, uuid
        self.memory_mib, self.compute_pct = memory_mib, compute_pct

    def malloc(self, nbytes: int) -> Buffer:
        return Buffer(self.conn.call('malloc', device=self.local, nbytes=int(nbytes))['ptr'],
                      int(nbytes))

    def free(self, buf: Buffer) -> None:
        self.conn.call('free', ptr=buf.ptr)

    def htod(self, buf: Buffer, data, offset: int = 0) -> None:
        self.conn.call('htod', memoryview(data).cast('B'), ptr=buf.ptr, offset=offset)

    def dtoh(self, buf: Buffer, into=None, offset: int = 0, nbytes: int | None = None):
        nbytes = buf.nbytes - offset if nbytes is None else nbytes
        if into is not None:
            self.conn.call('dtoh', into=memoryview(into).cast('B'), ptr=buf.ptr, offset=offset,
                           nbytes=nbytes)
            return into
        return self.conn.call('dtoh', ptr=buf.ptr, offset=offset, nbytes=nbytes).get(
            'payload', b'')

    def upload(self, array: np.ndarray) -> Buffer:
        array = np.ascontiguousarray(array)
        buf = self.malloc(array.nbytes)
        self.htod(buf, array)
        return buf

    def download(self, buf: Buffer, dtype, count: int) -> np.ndarray:
        out = np.empty(count, dtype=dtype)
        self.dtoh(buf, into=out, nbytes=out.nbytes)
        return out

    def saxpy(self, a: float, x: Buffer, y: Buffer, n: int) -> float:
        return self.conn.call('saxpy', a=float(a), x=x.ptr, y=y.ptr, n=int(n))['kernel_s']

    def matmul(self, a: Buffer, b: Buffer, c: Buffer, m: int, k: int, n: int) -> float:
        return self.conn.call('matmul', a=a.ptr, b=b.ptr, c=c.ptr, m=m, k=k, n=n)['kernel_s']

    def mem_info(self) -> tuple[int, int]:
        info = self.conn.call('mem_info', device=self.local)
        return info['free'], info['total']


def devices(servers: str | None = None) -> list[Device]:
    """Connect to every server of ``servers`` (default ``$POOLING_SIM_SERVER``); list cards."""
    servers = servers if servers is not None else os.environ.get(ENV, '')
    if not servers:
        raise SimError('no_server', f'{ENV} is not set; run the program under `pooling run`')
    found = []
    for address in servers.split(','):
        conn = Connection(address.strip())
        for dev in conn.call('hello')['devices']:
            found.append(Device(conn, dev['index'], dev['uuid'], dev['memory_mib'],
                                dev['compute_pct']))
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description='Smoke programs for the sim data plane.')
    sub = parser.add_subparsers(dest='cmd', required=True)
    p = sub.add_parser('saxpy', help='y = a*x + y on every card; check against numpy')
    p.add_argument('--n', type=int, default=1 << 20)
    p.add_argument('--a', type=float, default=2.5)
    p = sub.add_parser('alloc', help='allocate MiB on card 0 (fails past the slice limit)')
    p.add_argument('--mib', type=int, required=True)
    sub.add_parser('info', help='list the cards')
    args = parser.parse_args(argv)
    try:
        devs = devices()
        if args.cmd == 'info':
            for i, d in enumerate(devs):
                free, total = d.mem_info()
                print(f'{i}: {d.uuid} {total >> 20} MiB ({free >> 20} free) '
                      f'{d.compute_pct}% compute')
            return 0
        if args.cmd == 'alloc':
            devs[0].malloc(args.mib * 1048576)
            print(f'allocated {args.mib} MiB on {devs[0].uuid}')
            return 0
        rng = np.random.default_rng(7)
        for i, d in enumerate(devs):
            x = rng.standard_normal(args.n, dtype=np.float32)
            y = rng.standard_normal(args.n, dtype=np.float32)
            bx, by = d.upload(x), d.upload(y)
            d.saxpy(args.a, bx, by, args.n)
            got = d.download(by, np.float32, args.n)
            want = np.float32(args.a) * x + y
            if not np.allclose(got, want, rtol=1e-6, atol=1e-6):
                print(f'card {i}: saxpy result is WRONG', file=sys.stderr)
                return 2
            print(f'card {i} ({d.uuid}): saxpy n={args.n} ok, checksum {float(got.sum()):.3f}')
        return 0
    except (SimError, OSError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
