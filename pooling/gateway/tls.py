"""TLS over memory BIOs for the splice loop, and the gateway's preamble protocol.

Why memory BIOs: the splice thread owns both sockets and drives OpenSSL itself, so no two
threads ever touch one TLS object, reads are taken in large batches, and a TLS end behaves like a
plain one (``pooling_drivers.remoting.splice.End``).

The preamble (client -> gateway, first plaintext after the handshake, one line, ASCII)::

    POOLING-GW/1 CONNECT <lease_id> <token>\\n      splice to the lease's backend
    POOLING-GW/1 CHECK <lease_id> <token>\\n        only say whether the credential is good

answered by ``OK\\n`` (then, for CONNECT, the backend's bytes) or ``ERR <code> <text>\\n`` and
close.  Codes: ``denied`` (unknown lease, wrong or another lease's credential -- one answer for
all, so lease ids cannot be probed), ``expired``, ``busy`` (the lease's connection limit),
``unavailable`` (the backend does not answer), ``bad-preamble`` (too long, malformed or too slow).
"""

from __future__ import annotations

import select
import socket
import ssl
import time

from pooling_drivers.remoting import splice

MAGIC = 'POOLING-GW/1'
#: Longest preamble line accepted, newline included.
MAX_PREAMBLE = 512
CODES = ('denied', 'expired', 'busy', 'unavailable', 'bad-preamble')


class PreambleError(Exception):
    """The peer sent no valid preamble (or answer) in time."""


class TlsEnd(splice.End):
    """A TLS connection driven through memory BIOs on a non-blocking socket."""

    def __init__(self, sock: socket.socket, context: ssl.SSLContext, server_side: bool,
                 server_hostname: str | None = None) -> None:
        super().__init__(sock)
        self._in = ssl.MemoryBIO()
        self._outbio = ssl.MemoryBIO()
        self.tls = context.wrap_bio(self._in, self._outbio, server_side=server_side,
                                    server_hostname=server_hostname)
        self._raw_eof = False

    # -- blocking helpers used before splicing ---------------------------------------------
    def _wait(self, readable: bool, deadline: float) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError('TLS peer too slow')
        r, w, _ = select.select([self.sock] if readable else [],
                                [] if readable else [self.sock], [], left)
        if not r and not w:
            raise TimeoutError('TLS peer too slow')

    def _pull(self, deadline: float) -> None:
        self._wait(True, deadline)
        try:
            data = self.sock.recv(splice.READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        if not data:
            raise ConnectionResetError('peer closed the connection')
        self._in.write(data)

    def _push_blocking(self, deadline: float) -> None:
        self._move_out()
        while self.out_bytes:
            if not self.flush():
                raise ConnectionResetError('peer closed the connection')
            if self.out_bytes:
                self._wait(False, deadline)

    def handshake(self, timeout: float) -> None:
        """Complete the TLS handshake within ``timeout`` seconds.

        :raises ssl.SSLError: verification or protocol failure. :raises TimeoutError: too slow.
        """
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._push_blocking(deadline)
                self._pull(deadline)
        self._push_blocking(deadline)

    def send_all(self, data: bytes, timeout: float = 5.0) -> None:
        """Encrypt and send ``data`` before returning."""
        self.tls.write(data)
        self._push_blocking(time.monotonic() + timeout)

    def read_line(self, limit: int, timeout: float) -> tuple[bytes, bytes]:
        """Read one ``\\n``-terminated line of at most ``limit`` bytes within ``timeout``.

        :returns: ``(line without newline, bytes read after it)``.
        :raises PreambleError: longer than ``limit``, closed or too slow.
        """
        deadline = time.monotonic() + timeout
        got = b''
        while b'\n' not in got:
            if len(got) >= limit:
                raise PreambleError(f'preamble longer than {limit} bytes')
            try:
                got += self.tls.read(limit)
                continue
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError as exc:
                raise PreambleError(f'TLS error: {exc}') from exc
            try:
                self._push_blocking(deadline)
                self._pull(deadline)
            except (TimeoutError, OSError) as exc:
                raise PreambleError(f'no complete preamble: {exc}') from exc
        line, _, rest = got.partition(b'\n')
        if len(line) + 1 > limit:
            raise PreambleError(f'preamble longer than {limit} bytes')
        return line, rest

    # -- splice.End -------------------------------------------------------------------------
    def _move_out(self) -> None:
        pending = self._outbio.pending
        if pending:
            splice.End.queue(self, self._outbio.read(pending))

    def read(self) -> list | None:
        # Take every ciphertext byte the kernel has (up to a bound), then decrypt it into one
        # buffer: one large send downstream instead of one per 16 KiB TLS record.
        pulled = 0
        while pulled < 4 * splice.READ_SIZE and not self._raw_eof:
            try:
                raw = self.sock.recv(splice.READ_SIZE)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self._raw_eof = True
                break
            if not raw:
                self._raw_eof = True
                break
            self._in.write(raw)
            pulled += len(raw)
            if len(raw) < splice.READ_SIZE:
                break
        avail = self._in.pending + self.tls.pending()
        filled = 0
        if avail:
            view = memoryview(bytearray(avail))  # plaintext is never longer than ciphertext
            while filled < avail:
                try:
                    n = self.tls.read(avail - filled, view[filled:])
                except ssl.SSLWantReadError:
                    break
                except (ssl.SSLZeroReturnError, ssl.SSLError):
                    self._raw_eof = True
                    break
                if not n:
                    self._raw_eof = True
                    break
                filled += n
        self._move_out()  # TLS 1.3 may answer (key update, tickets) while reading
        if filled:
            return [view[:filled]]
        return None if self._raw_eof else []

    def buffered(self) -> bool:
        return self.tls.pending() > 0 or self._in.pending > 0

    def queue(self, data) -> None:
        self.tls.write(data)
        self._move_out()


def encode_preamble(verb: str, lease_id: str, token: str) -> bytes:
    line = f'{MAGIC} {verb} {lease_id} {token}\n'.encode('ascii')
    if len(line) > MAX_PREAMBLE:
        raise ValueError('lease id and token too long for a preamble')
    return line


def parse_preamble(line: bytes) -> tuple[str, str, str]:
    """Return ``(verb, lease_id, token)``. :raises PreambleError: malformed."""
    try:
        parts = line.decode('ascii').split(' ')
    except UnicodeDecodeError as exc:
        raise PreambleError('preamble is not ASCII') from exc
    if len(parts) != 4 or parts[0] != MAGIC or parts[1] not in ('CONNECT', 'CHECK'):
        raise PreambleError('malformed preamble')
    return parts[1], parts[2], parts[3]


def encode_error(code: str, text: str) -> bytes:
    assert code in CODES
    return f'ERR {code} {text}\n'.encode('ascii', 'replace')[:MAX_PREAMBLE]


def parse_answer(line: bytes) -> tuple[str, str]:
    """Return ``('ok', '')`` or ``(code, text)`` from a gateway's answer line."""
    text = line.decode('ascii', 'replace')
    if text == 'OK':
        return 'ok', ''
    if text.startswith('ERR '):
        code, _, rest = text[4:].partition(' ')
        return code, rest
    raise PreambleError(f'unexpected gateway answer {text[:60]!r}')
