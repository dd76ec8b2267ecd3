"""Bulk bytes through the splice loops: byte for byte under back-pressure.

The splice reads into a buffer it reuses and queues a view of it; these tests make the far end
slow, so sends are partial and views wait in queues, and check every byte with a digest.  A
buffer reused while its bytes were still queued would show as a different digest.
"""

import hashlib
import os
import socket
import threading
import time

from pooling.gateway import proxy
from pooling_drivers.remoting import splice


def pump(sock, data):
    """Send ``data`` from a thread, then half-close."""
    def run():
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def slow_digest(sock, n, pause_every=1 << 20, pause=0.02, timeout=60.0):
    """Read ``n`` bytes in small reads, pausing every ``pause_every`` bytes; return the digest."""
    h = hashlib.sha256()
    got = 0
    next_pause = pause_every
    sock.settimeout(timeout)
    while got < n:
        chunk = sock.recv(49999)  # an odd size: reads never line up with the splice's buffers
        assert chunk, f'closed after {got} of {n} bytes'
        h.update(chunk)
        got += len(chunk)
        if got >= next_pause:
            time.sleep(pause)
            next_pause += pause_every
    return h.hexdigest()


def test_plain_splice_is_byte_for_byte_under_back_pressure():
    a_app, a_splice = socket.socketpair()
    b_splice, b_app = socket.socketpair()
    seen = []
    t = threading.Thread(target=splice.splice,
                         args=(splice.End(a_splice), splice.End(b_splice), None, seen.append),
                         daemon=True)
    t.start()
    data = os.urandom(1 << 20) * 12 + os.urandom(12345)  # 12 MiB and a ragged tail
    writer = pump(a_app, data)
    assert slow_digest(b_app, len(data)) == hashlib.sha256(data).hexdigest()
    writer.join(10)
    assert sum(seen) == len(data)
    assert b_app.recv(1) == b''  # the writer's end reached the reader
    t.join(5)
    assert not t.is_alive()


def test_tls_tunnel_is_byte_for_byte_under_back_pressure(make_lease, gateway):
    """Program -> local proxy -> TLS -> gateway -> echo backend and back, a slow reader."""
    lease = make_lease()
    local = proxy.LocalProxy(lease.endpoint, lease.cred.token, lease.context)
    host, port = local.start().split(':')
    try:
        sock = socket.create_connection((host, int(port)), timeout=10)
        data = os.urandom(1 << 20) * 16 + os.urandom(777)  # 16 MiB and a ragged tail
        writer = threading.Thread(target=sock.sendall, args=(data,), daemon=True)
        writer.start()
        assert slow_digest(sock, len(data)) == hashlib.sha256(data).hexdigest()
        writer.join(10)
        counters = gateway.counters(lease.lease_id)
        assert counters.bytes_in == counters.bytes_out == len(data)
        sock.close()
    finally:
        local.stop()
