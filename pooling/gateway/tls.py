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
    """A non-blocking TLS socket as one end of a splice.

    OpenSSL reads and writes the socket itself (no memory BIO copies); only the splice thread
    touches the TLS object.  Writes that would block are retried with the same bytes, as
    OpenSSL requires.
    """

    #: Most plaintext handed to one ``SSL_write``.
    WRITE_CHUNK = 262144

    def __init__(self, sock: socket.socket, context: ssl.SSLContext, server_side: bool,
                 server_hostname: str | None = None) -> None:
        tls_sock = context.wrap_socket(sock, server_side=server_side,
                                       server_hostname=server_hostname,
                                       do_handshake_on_connect=False)
        super().__init__(tls_sock)
        self.tls = tls_sock

    # -- blocking helpers used before splicing ---------------------------------------------
    def _wait(self, readable: bool, deadline: float) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError('TLS peer too slow')
        r, w, _ = select.select([self.sock] if readable else [],
                                [] if readable else [self.sock], [], left)
        if not r and not w:
            raise TimeoutError('TLS peer too slow')

    def handshake(self, timeout: float) -> None:
        """Complete the TLS handshake within ``timeout`` seconds.

        :raises ssl.SSLError: verification or protocol failure. :raises TimeoutError: too slow.
        """
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.tls.do_handshake()
                return
            except ssl.SSLWantReadError:
                self._wait(True, deadline)
            except ssl.SSLWantWriteError:
                self._wait(False, deadline)

    def send_all(self, data: bytes, timeout: float = 5.0) -> None:
        """Encrypt and send ``data`` before returning."""
        self.queue(data)
        deadline = time.monotonic() + timeout
        while self.out_bytes:
            if not self.flush():
                raise ConnectionResetError('peer closed the connection')
            if self.out_bytes:
                self._wait(False, deadline)

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
                chunk = self.tls.recv(limit)
            except ssl.SSLWantReadError:
                try:
                    self._wait(True, deadline)
                except TimeoutError as exc:
                    raise PreambleError(f'no complete preamble: {exc}') from exc
                continue
            except ssl.SSLWantWriteError:
                continue
            except (ssl.SSLError, OSError) as exc:
                raise PreambleError(f'connection failed: {exc}') from exc
            if not chunk:
                raise PreambleError('closed before a complete preamble')
            got += chunk
        line, _, rest = got.partition(b'\n')
        if len(line) + 1 > limit:
            raise PreambleError(f'preamble longer than {limit} bytes')
        return line, rest

    # -- splice.End -------------------------------------------------------------------------
    def read(self) -> list | None:
        chunks: list = []
        total = 0
        while total < 4 * splice.READ_SIZE:
            try:
                data = self.tls.recv(splice.READ_SIZE)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                break
            except (ssl.SSLError, OSError):
                return self._last(chunks)
            if not data:
                return self._last(chunks)
            chunks.append(data)
            total += len(data)
            if len(data) < 16384 and not self.tls.pending():
                break  # a short record: likely all there is; spare a read that would block
        if len(chunks) > 1:  # one large send downstream instead of one per 16 KiB record
            return [b''.join(chunks)]
        return chunks

    def _last(self, chunks: list) -> list | None:
        if chunks:
            self.eof = True
            return [b''.join(chunks)]
        return None

    def buffered(self) -> bool:
        return self.eof or self.tls.pending() > 0

    def flush(self) -> bool:
        out = self._out
        try:
            while out:
                chunk = out[0][:self.WRITE_CHUNK]
                sent = self.tls.send(chunk)
                self.out_bytes -= sent
                if sent < len(out[0]):
                    out[0] = out[0][sent:]
                else:
                    out.popleft()
        except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError,
                InterruptedError):
            return True
        except OSError:
            return False
        return True

    def close(self) -> None:
        try:
            self.tls.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.tls.close()


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
