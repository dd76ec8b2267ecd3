"""The consumer side: a local proxy on 127.0.0.1 that tunnels to a device host's gateway.

``pooling run`` starts one :class:`LocalProxy` per lease endpoint and points the backend's client
library at it.  Each local connection gets exactly one TLS connection to the gateway (server
certificate checked against the lease's CA, then the preamble with the lease's token); when
either side ends, both close.  Nothing reconnects: a dropped connection is a lost device context
and the program must see it.

The proxy listens on loopback, which every user of the consumer host can reach; it therefore
serves only connections whose other end belongs to its own user (the socket's owner in
``/proc/net/tcp``), so another user of a shared machine cannot borrow the vGPU while ``pooling
run`` runs.
"""

from __future__ import annotations

import logging
import os
import socket
import ssl
import threading

from pooling.gateway import lease as lease_mod
from pooling.gateway import tls
from pooling_drivers.remoting import splice

LOG = logging.getLogger(__name__)


class TunnelError(Exception):
    """A tunnel to a gateway could not be opened."""


class GatewayUnreachable(TunnelError):
    """No TCP or TLS connection to the gateway (down, firewalled, wrong CA or name)."""


class GatewayRefused(TunnelError):
    """The gateway answered with an error code (``denied``, ``expired``, ``busy`` ...)."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(f'gateway refused the connection: {code} ({text})')
        self.code = code
        self.text = text


def client_context(ca_pem: str) -> ssl.SSLContext:
    """A client TLS context trusting only the lease's CA, checking the host name."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_verify_locations(cadata=ca_pem)
    return ctx


def open_tunnel(endpoint: lease_mod.LeaseEndpoint, token: str, context: ssl.SSLContext,
                verb: str = 'CONNECT', timeout: float = 10.0) -> tls.TlsEnd:
    """Connect, handshake, send the preamble and wait for ``OK``.

    :raises GatewayUnreachable: TCP or TLS failed. :raises GatewayRefused: the gateway said no.
    """
    try:
        sock = socket.create_connection((endpoint.host, endpoint.port), timeout=timeout)
    except OSError as exc:
        raise GatewayUnreachable(f'cannot reach gateway {endpoint.gateway}: {exc}') from exc
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    end = tls.TlsEnd(sock, context, server_side=False, server_hostname=endpoint.tls_name)
    try:
        end.handshake(timeout)
    except ssl.SSLCertVerificationError as exc:
        end.close()
        raise GatewayUnreachable(f'gateway {endpoint.gateway} failed TLS verification '
                                 f'against the lease CA: {exc.verify_message}') from exc
    except (OSError, TimeoutError, ssl.SSLError) as exc:
        end.close()
        raise GatewayUnreachable(f'TLS to gateway {endpoint.gateway} failed: {exc}') from exc
    try:
        end.send_all(tls.encode_preamble(verb, endpoint.lease_id, token), timeout)
        line, rest = end.read_line(tls.MAX_PREAMBLE, timeout)
        code, text = tls.parse_answer(line)
    except (OSError, TimeoutError, tls.PreambleError) as exc:
        end.close()
        raise GatewayUnreachable(f'gateway {endpoint.gateway} did not answer: {exc}') from exc
    if code != 'ok':
        end.close()
        raise GatewayRefused(code, text)
    if rest:  # bytes of the backend that came with OK
        end.pushback = rest
    return end


def check(document: lease_mod.LeaseDocument, timeout: float = 10.0) -> None:
    """Ask every gateway of the lease whether the credential is good (opens no backend).

    :raises TunnelError: the first endpoint that fails.
    """
    context = client_context(document.ca_cert)
    for endpoint in document.endpoints:
        open_tunnel(endpoint, document.token, context, verb='CHECK', timeout=timeout).close()


def _proc_addr(host: str, port: int) -> str:
    """``/proc/net/tcp`` spelling of an IPv4 address and port (``0100007F:1F90``)."""
    return '%08X:%04X' % (int.from_bytes(socket.inet_aton(host), 'little'), port)


def peer_uid(sock: socket.socket) -> int | None:
    """The uid owning the other end of a loopback TCP connection (Linux), or ``None``."""
    try:
        peer = sock.getpeername()[:2]
        local = sock.getsockname()[:2]
        want = (_proc_addr(*peer), _proc_addr(*local))
        with open('/proc/net/tcp') as f:
            next(f)
            for line in f:
                fields = line.split()
                if (fields[1], fields[2]) == want:
                    return int(fields[7])
    except (OSError, ValueError, StopIteration):
        return None
    return None


class LocalProxy:
    """Listens on ``host:port`` (loopback) and tunnels each connection to one gateway."""

    def __init__(self, endpoint: lease_mod.LeaseEndpoint, token: str,
                 context: ssl.SSLContext, host: str = '127.0.0.1', port: int = 0,
                 on_error=None) -> None:
        self.endpoint = endpoint
        self._token = token
        self._context = context
        self._listener = socket.create_server((host, port))
        self.address = '%s:%d' % self._listener.getsockname()[:2]
        self._stop = threading.Event()
        self._conns: set = set()
        self._lock = threading.Lock()
        self.errors: list[TunnelError] = []
        self._on_error = on_error

    def start(self) -> str:
        threading.Thread(target=self._accept, name='pooling-proxy', daemon=True).start()
        return self.address

    def stop(self) -> None:
        splice.close_relay(self._listener, self._stop, self._lock, self._conns)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        uid = peer_uid(sock)
        if uid != os.getuid():
            LOG.warning('Local proxy: refused a connection from uid %s (serving uid %d only)',
                        uid, os.getuid())
            sock.close()
            return
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            remote = open_tunnel(self.endpoint, self._token, self._context)
        except TunnelError as exc:
            self.errors.append(exc)
            LOG.error('%s', exc)
            if self._on_error is not None:
                self._on_error(exc)
            sock.close()
            return
        local = splice.End(sock)
        rest = getattr(remote, 'pushback', b'')
        if rest:
            local.queue(rest)
        pair = (local, remote)
        with self._lock:
            self._conns.add(pair)
        try:
            splice.splice(local, remote, self._stop)
        finally:
            with self._lock:
                self._conns.discard(pair)
