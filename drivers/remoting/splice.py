"""Byte-for-byte splicing of two stream connections, one thread per connection pair.

Used by the TLS gateway (TLS end in ``pooling.gateway.tls``), by the consumer's local proxy and
by the LUPINE plugin's counting relay.  One pair of connections is spliced by one thread with
non-blocking sockets and ``select``: no thread ever reads and writes the same TLS object at once
(OpenSSL objects are not safe for that), and a :class:`threading.Event` or closing a socket stops
the pair within the select timeout.

Nothing is parsed, reordered or merged: what one end reads is queued, in order, to the other.
When either side ends (EOF, reset), what is queued is flushed and both are closed -- a backend
connection is one device context, so there is no half-open state to keep.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
import select
import socket
import threading
import time

#: Smallest and largest buffer a side reads into.  A side starts small (a connection of small
#: calls holds little memory) and doubles its buffer whenever a read fills it, so a bulk stream
#: moves a MiB per system call and per Python-level iteration.
READ_MIN = 65536
READ_MAX = 1048576
#: Kernel send and receive buffer asked for each spliced socket (capped by net.core.wmem_max
#: and rmem_max).  A unix socket's default (~208 KiB) would cut every MiB into five sends, each
#: a trip through select.
SOCKET_BUFFER = 4 * 1048576
#: Seconds one select may block; bounds how late a stop request is seen.
TICK = 0.2


class End:
    """One side of a splice over a non-blocking socket.  This class is the plain-socket end.

    :meth:`read` returns a view of this end's own buffer, valid until its next read; the splice
    never reads a side again while its peer still holds queued bytes, so the buffer is reused
    without a copy and the kernel's socket buffers do the queueing.
    """

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        for opt in (socket.SO_SNDBUF, socket.SO_RCVBUF):
            try:
                if sock.getsockopt(socket.SOL_SOCKET, opt) < SOCKET_BUFFER:
                    sock.setsockopt(socket.SOL_SOCKET, opt, SOCKET_BUFFER)
            except OSError:
                pass
        self.sock = sock
        self._out: deque = deque()
        self.out_bytes = 0
        self.eof = False
        self._buf = memoryview(bytearray(READ_MIN))

    def fileno(self) -> int:
        return self.sock.fileno()

    def _grow(self, filled: int) -> None:
        """Double the read buffer after a read that filled it (up to :data:`READ_MAX`)."""
        if filled == len(self._buf) < READ_MAX:
            self._buf = memoryview(bytearray(2 * filled))

    def read(self) -> list | None:
        """Return the buffers readable now ([] if none), or ``None`` at end of stream."""
        buf = self._buf
        try:
            n = self.sock.recv_into(buf)
        except (BlockingIOError, InterruptedError):
            return []
        except OSError:
            return None
        if not n:
            return None
        self._grow(n)
        return [buf[:n]]

    def buffered(self) -> bool:
        """Whether data is readable without waiting on the socket (TLS keeps some)."""
        return False

    def queue(self, data) -> None:
        """Queue bytes to send, in order."""
        self._out.append(memoryview(data))
        self.out_bytes += len(data)

    def flush(self) -> bool:
        """Send what the kernel takes now; ``False`` if the socket failed."""
        out = self._out
        try:
            while out:
                chunk = out[0]
                sent = self.sock.send(chunk)
                self.out_bytes -= sent
                if sent < len(chunk):
                    out[0] = chunk[sent:]
                    return True
                out.popleft()
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:
            return False
        return True

    def abort(self) -> None:
        """From any thread: shut the socket down so the splice thread sees the end at once."""
        try:
            socket.socket.shutdown(self.sock, socket.SHUT_RDWR)
        except OSError:
            pass

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def splice(a: End, b: End, stop: threading.Event | None = None,
           on_a_to_b: Callable[[int], None] | None = None,
           on_b_to_a: Callable[[int], None] | None = None) -> None:
    """Copy ``a`` -> ``b`` and ``b`` -> ``a`` until either ends or ``stop`` is set; close both.

    ``on_a_to_b(n)`` / ``on_b_to_a(n)`` are told every ``n`` bytes read from a side (for counters).
    A side is read only when its peer has nothing queued: what it read is then sent at once, and
    what the kernel does not take yet waits in the queue (a view of the reader's buffer) until the
    peer is writable -- one select per buffer, no copy, and back-pressure reaches the sender
    through the kernel's socket buffers.
    """
    pairs = ((a, b, on_a_to_b), (b, a, on_b_to_a))
    select_ = select.select
    try:
        while stop is None or not stop.is_set():
            readers = []
            ready = []
            for src, dst, _ in pairs:
                if not dst.out_bytes:
                    readers.append(src)
                    if src.buffered():
                        ready.append(src)
            writers = [end for end in (a, b) if end.out_bytes]
            try:
                readable, writable, _ = select_(readers, writers, [], 0 if ready else TICK)
            except (OSError, ValueError):  # a socket was closed under us (revoke)
                return
            for src, dst, count in pairs:
                if src in readable or src in ready:
                    bufs = src.read()
                    if bufs is None:
                        _drain(dst)
                        return
                    for buf in bufs:
                        dst.queue(buf)
                        if count is not None:
                            count(len(buf))
                    if not dst.flush():
                        return
            for end in writable:
                if not end.flush():
                    return
    finally:
        a.close()
        b.close()


def close_relay(listener: socket.socket, stop: threading.Event, lock: threading.Lock,
                pairs) -> None:
    """Stop a relay: no more accepts, and abort every pair it splices (both ends, at once).

    Shared by the gateway's local proxy and the LUPINE namespace relay, which both keep
    ``pairs`` (an iterable of ``(End, End)``) under ``lock``.
    """
    stop.set()
    try:
        listener.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    listener.close()
    with lock:
        ends = [end for pair in pairs for end in pair]
    for end in ends:
        end.abort()


def _drain(end: End, timeout: float = 5.0) -> None:
    """Send what is queued on ``end`` before closing, for at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while end.out_bytes and time.monotonic() < deadline:
        if not end.flush():
            return
        if end.out_bytes:
            try:
                select.select([], [end], [], TICK)
            except (OSError, ValueError):
                return
