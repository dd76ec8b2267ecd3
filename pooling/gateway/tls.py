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

from collections import deque
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
    """A non-blocking TLS connection as one end of a splice, TLS over memory BIOs.

    The splice thread moves ciphertext between the socket and two :class:`ssl.MemoryBIO` and
    drives OpenSSL itself, so no two threads ever touch one TLS object.  Why memory BIOs rather
    than OpenSSL reading the socket: OpenSSL then makes two ``recv`` per 16 KiB record (header,
    body) and one ``send`` per record, and on loopback every ``send`` runs the receiver's TCP
    path too; here a MiB of records is received in one ``recv`` and a MiB of plaintext is
    encrypted and handed to the kernel in one ``send`` -- fewer system calls and larger segments
    for one more memory copy.
    """

    #: Most plaintext encrypted at once (bounds the ciphertext held before the socket takes it).
    ENCRYPT_CHUNK = splice.READ_MAX

    def __init__(self, sock: socket.socket, context: ssl.SSLContext, server_side: bool,
                 server_hostname: str | None = None) -> None:
        super().__init__(sock)
        self._in = ssl.MemoryBIO()
        self._wire_out = ssl.MemoryBIO()
        self.tls = context.wrap_bio(self._in, self._wire_out, server_side=server_side,
                                    server_hostname=server_hostname)
        self._plain: deque = deque()  # plaintext queued, not yet encrypted
        self._cipher: deque = deque()  # ciphertext not yet taken by the socket
        self._pbuf = memoryview(bytearray(splice.READ_MIN))
        self._more = False  # plaintext is decryptable without reading the socket
        self._sock_eof = False

    # -- moving ciphertext --------------------------------------------------------------------
    def _take_output(self) -> None:
        """Queue whatever OpenSSL wrote (records, handshake messages, alerts) for the socket."""
        if self._wire_out.pending:
            data = self._wire_out.read()
            self._cipher.append(memoryview(data))
            self.out_bytes += len(data)

    def _send_cipher(self) -> bool:
        """Send queued ciphertext; ``True`` when all of it went."""
        out = self._cipher
        while out:
            chunk = out[0]
            sent = self.sock.send(chunk)
            self.out_bytes -= sent
            if sent < len(chunk):
                out[0] = chunk[sent:]
                return False
            out.popleft()
        return True

    def _recv_cipher(self) -> bool:
        """Move what the socket has into the TLS object; ``False`` if none was there yet."""
        buf = self._buf
        try:
            n = self.sock.recv_into(buf)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            n = 0
        if not n:
            self._sock_eof = True
            self._in.write_eof()
            return True
        self._in.write(buf[:n])
        self._grow(n)
        return True

    # -- blocking helpers used before splicing ---------------------------------------------
    def _wait(self, readable: bool, deadline: float) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError('TLS peer too slow')
        r, w, _ = select.select([self.sock] if readable else [],
                                [] if readable else [self.sock], [], left)
        if not r and not w:
            raise TimeoutError('TLS peer too slow')

    def _send_all_cipher(self, deadline: float) -> None:
        self._take_output()
        while True:
            try:
                if self._send_cipher():
                    return
            except (BlockingIOError, InterruptedError):
                pass
            self._wait(False, deadline)

    def _need_input(self, deadline: float) -> None:
        """Send what OpenSSL wrote, then wait for and take more ciphertext from the peer."""
        self._send_all_cipher(deadline)
        if self._sock_eof:
            raise ConnectionResetError('peer closed the connection')
        while not self._recv_cipher():
            self._wait(True, deadline)

    def handshake(self, timeout: float) -> None:
        """Complete the TLS handshake within ``timeout`` seconds.

        :raises ssl.SSLError: verification or protocol failure. :raises TimeoutError: too slow.
        :raises ConnectionResetError: the peer closed.
        """
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._need_input(deadline)
        self._send_all_cipher(deadline)

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
                chunk = self.tls.read(limit)
            except ssl.SSLWantReadError:
                try:
                    self._need_input(deadline)
                except TimeoutError as exc:
                    raise PreambleError(f'no complete preamble: {exc}') from exc
                except OSError as exc:
                    raise PreambleError(f'connection failed: {exc}') from exc
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
        """Decrypt what has arrived into this end's plaintext buffer (a view, as splice.End)."""
        if not self._more and not self._sock_eof:
            self._recv_cipher()
        view = self._pbuf
        size = len(view)
        got = 0
        ended = False
        read = self.tls.read
        while got < size:
            try:
                n = read(size - got, view[got:])
            except ssl.SSLWantReadError:
                break
            except (ssl.SSLError, OSError):
                ended = True
                break
            if not n:
                ended = True
                break
            got += n
        self._more = got == size
        if self._wire_out.pending:  # e.g. a key update answered while reading
            self._take_output()
        if got:
            if got == size < splice.READ_MAX:
                self._pbuf = memoryview(bytearray(2 * size))
            if ended:
                self.eof = True
            return [view[:got]]
        if ended or self.eof:
            return None
        return []

    def buffered(self) -> bool:
        return self.eof or self._more

    def queue(self, data) -> None:
        self._plain.append(memoryview(data))
        self.out_bytes += len(data)

    def flush(self) -> bool:
        """Send queued ciphertext; encrypt more plaintext only once the socket took it all."""
        plain = self._plain
        try:
            while True:
                if not self._send_cipher():
                    return True
                if not plain:
                    return True
                chunk = plain[0][:self.ENCRYPT_CHUNK]
                n = self.tls.write(chunk)  # a memory BIO takes it all; the count says so
                if n < len(plain[0]):
                    plain[0] = plain[0][n:]
                else:
                    plain.popleft()
                self.out_bytes -= n
                self._take_output()
        except (BlockingIOError, InterruptedError):
            return True
        except (ssl.SSLError, OSError):
            return False

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


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
