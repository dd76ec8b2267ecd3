"""The TLS gateway: one listener per device host in front of every remote-vGPU backend.

A consumer's connection is admitted only with the credential of a live lease of this host, sent
in a one-line preamble (``pooling.gateway.tls``) before any backend byte; it is then spliced byte
for byte to that lease's backend over a connection of its own -- never multiplexed, never
reconnected: one connection is one device context.  ``revoke`` (vGPU deleted, credential revoked)
and expiry close the lease's connections within a second.

The agent embeds a :class:`Gateway` (``admit`` on prepare, ``revoke`` on release).  ``main`` runs
one as its own process (``pooling-gateway``) with a local control socket, for deployments and
tests that keep it apart from the agent.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import socket
import ssl
import threading
import time

from pooling.gateway import credentials
from pooling.gateway import tls
from pooling_drivers.remoting import base
from pooling_drivers.remoting import splice

LOG = logging.getLogger(__name__)


@dataclasses.dataclass(eq=False)
class _Conn:
    stop: threading.Event
    ends: tuple


@dataclasses.dataclass
class _Lease:
    lease_id: str
    token_sha256: str
    backend: base.BackendEndpoint
    max_connections: int
    expires_at: float | None
    conns: set = dataclasses.field(default_factory=set)
    bytes_in: int = 0
    bytes_out: int = 0
    total: int = 0
    last_use: float | None = None


def server_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """A TLS 1.2+ server context for the gateway."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert_file, key_file)
    return ctx


class Gateway:
    """The TLS listener and the table of admitted leases.

    :param context: server TLS context (see :func:`server_context`).
    :param host: address to listen on; :param port: port (0 = any, see :attr:`address`).
    """

    def __init__(self, context: ssl.SSLContext, host: str = '0.0.0.0', port: int = 14830,
                 handshake_timeout: float = 5.0, preamble_timeout: float = 2.0,
                 max_pending: int = 256) -> None:
        self.context = context
        self._bind = (host, port)
        self.handshake_timeout = handshake_timeout
        self.preamble_timeout = preamble_timeout
        self._pending = threading.BoundedSemaphore(max_pending)
        self._leases: dict[str, _Lease] = {}
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._listener: socket.socket | None = None
        self.address: tuple[str, int] | None = None

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> tuple[str, int]:
        """Listen and serve in background threads; return the bound ``(host, port)``."""
        family = socket.AF_INET6 if ':' in self._bind[0] else socket.AF_INET
        self._listener = socket.create_server(self._bind, family=family, backlog=128)
        self.address = self._listener.getsockname()[:2]
        threading.Thread(target=self._accept_loop, name='gateway-accept', daemon=True).start()
        threading.Thread(target=self._expiry_loop, name='gateway-expiry', daemon=True).start()
        LOG.info('Gateway listening on %s:%d', *self.address)
        return self.address

    def stop(self) -> None:
        """Stop listening and close every spliced connection."""
        self._stopped.set()
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._listener.close()
        for lease_id in list(self._leases):
            self.revoke(lease_id)

    # -- the agent's API --------------------------------------------------------------------
    def admit(self, lease_id: str, token_sha256: str, backend: base.BackendEndpoint,
              max_connections: int = 8,
              expires_at: datetime.datetime | float | None = None) -> None:
        """Admit (or renew) a lease: connections with its token reach ``backend``.

        Calling it again for the same lease renews the credential or expiry; connections already
        open stay unless the backend changed (they then close: they reached the old one).
        """
        if len(token_sha256) != 64:
            raise ValueError('token_sha256 must be a hex SHA-256 (64 characters)')
        if max_connections < 1:
            raise ValueError('max_connections must be at least 1')
        expires = None if expires_at is None else credentials.to_epoch(expires_at)
        with self._lock:
            old = self._leases.get(lease_id)
            if old is not None and old.backend == backend:
                old.token_sha256, old.max_connections = token_sha256, max_connections
                old.expires_at = expires
                LOG.info('Gateway renewed lease %s', lease_id)
                return
            self._leases[lease_id] = _Lease(lease_id, token_sha256, backend, max_connections,
                                            expires)
        if old is not None:
            self._close(old)
        LOG.info('Gateway admitted lease %s to %s (at most %d connections)', lease_id,
                 backend.address, max_connections)

    def revoke(self, lease_id: str) -> int:
        """Forget the lease and close its connections; return how many were open."""
        with self._lock:
            lease = self._leases.pop(lease_id, None)
        if lease is None:
            return 0
        closed = self._close(lease)
        LOG.info('Gateway revoked lease %s (%d connections closed)', lease_id, closed)
        return closed

    def counters(self, lease_id: str) -> base.LeaseCounters:
        """Bytes and connections of the lease through this gateway."""
        with self._lock:
            lease = self._leases.get(lease_id)
            if lease is None:
                raise base.LeaseNotFound(f'lease {lease_id} is not admitted on this gateway')
            return base.LeaseCounters(lease_id, lease.bytes_in, lease.bytes_out,
                                      len(lease.conns), lease.total, lease.last_use)

    def leases(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(self._leases)

    # -- internals --------------------------------------------------------------------------
    def _close(self, lease: _Lease) -> int:
        with self._lock:
            conns = list(lease.conns)
        for conn in conns:
            conn.stop.set()
            for end in conn.ends:
                end.abort()
        return len(conns)

    def _expiry_loop(self) -> None:
        while not self._stopped.wait(0.25):
            now = time.time()
            with self._lock:
                expired = [lease for lease in self._leases.values()
                           if lease.expires_at is not None and lease.expires_at <= now
                           and lease.conns]
            for lease in expired:
                LOG.info('Lease %s expired; closing its %d connections', lease.lease_id,
                         len(lease.conns))
                self._close(lease)

    def _accept_loop(self) -> None:
        while not self._stopped.is_set():
            try:
                sock, peer = self._listener.accept()
            except OSError as exc:
                if self._stopped.is_set():
                    return
                LOG.warning('Gateway: accept failed: %s', exc)
                time.sleep(0.1)  # e.g. out of file descriptors: do not spin
                continue
            if not self._pending.acquire(blocking=False):
                LOG.warning('Gateway: too many connections in handshake; refusing %s', peer[0])
                sock.close()
                continue
            threading.Thread(target=self._serve, args=(sock, peer), daemon=True,
                             name='gateway-conn').start()

    def _serve(self, sock: socket.socket, peer) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client = tls.TlsEnd(sock, self.context, server_side=True)
        try:
            admitted = self._admit_connection(client, peer)
        finally:
            self._pending.release()
        if admitted is None:
            client.close()
            return
        lease, backend_end, conn = admitted

        def count_in(n: int) -> None:
            lease.bytes_in += n
            lease.last_use = time.time()

        def count_out(n: int) -> None:
            lease.bytes_out += n
            lease.last_use = time.time()

        try:
            splice.splice(client, backend_end, conn.stop, count_in, count_out)
        finally:
            with self._lock:
                lease.conns.discard(conn)

    def _refuse(self, client: tls.TlsEnd, code: str, text: str) -> None:
        try:
            client.send_all(tls.encode_error(code, text), timeout=1.0)
        except (OSError, TimeoutError, ssl.SSLError):
            pass

    def _admit_connection(self, client: tls.TlsEnd, peer):
        try:
            client.handshake(self.handshake_timeout)
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            LOG.info('Gateway: TLS handshake with %s failed: %s', peer[0], exc)
            return None
        try:
            line, rest = client.read_line(tls.MAX_PREAMBLE, self.preamble_timeout)
            verb, lease_id, token = tls.parse_preamble(line)
        except tls.PreambleError as exc:
            LOG.info('Gateway: refused %s: %s', peer[0], exc)
            self._refuse(client, 'bad-preamble', str(exc))
            return None
        with self._lock:
            lease = self._leases.get(lease_id)
            good = lease is not None and credentials.verify(token, lease.token_sha256)
            if good and lease.expires_at is not None and lease.expires_at <= time.time():
                code = 'expired'
            elif not good:
                code = 'denied'
            elif verb == 'CONNECT' and len(lease.conns) >= lease.max_connections:
                code = 'busy'
            else:
                code = None
                conn = _Conn(threading.Event(), ())
                if verb == 'CONNECT':
                    lease.conns.add(conn)  # held while we dial, so the limit is exact
                    lease.total += 1
                    lease.last_use = time.time()
        if code is not None:
            # NOTE: never log the token; the lease id is not secret.
            LOG.info('Gateway: refused %s for lease %s: %s', peer[0], lease_id, code)
            texts = {'denied': 'credential refused', 'expired': 'credential expired',
                     'busy': f'lease has {lease.max_connections if lease else 0} connections '
                             'open already'}
            self._refuse(client, code, texts[code])
            return None
        if verb == 'CHECK':
            self._refuse_or_ok(client)
            return None
        try:
            backend_sock = lease.backend.connect(timeout=5.0)
        except OSError as exc:
            with self._lock:
                lease.conns.discard(conn)
            LOG.warning('Gateway: backend of lease %s at %s does not answer: %s', lease_id,
                        lease.backend.address, exc)
            self._refuse(client, 'unavailable', 'backend does not answer')
            return None
        backend_end = splice.End(backend_sock)
        conn.ends = (client, backend_end)
        try:
            client.send_all(b'OK\n', timeout=self.preamble_timeout)
        except (OSError, TimeoutError, ssl.SSLError):
            with self._lock:
                lease.conns.discard(conn)
            backend_end.close()
            return None
        if rest:
            backend_end.queue(rest)
            lease.bytes_in += len(rest)
        if lease_id not in self._leases:  # revoked while we dialled
            with self._lock:
                lease.conns.discard(conn)
            backend_end.close()
            return None
        LOG.debug('Gateway: %s connected to lease %s', peer[0], lease_id)
        return lease, backend_end, conn

    @staticmethod
    def _refuse_or_ok(client: tls.TlsEnd) -> None:
        try:
            client.send_all(b'OK\n', timeout=1.0)
        except (OSError, TimeoutError, ssl.SSLError):
            pass


# -- pooling-gateway: the gateway as a process of its own --------------------------------------

def _control_loop(gateway: Gateway, path: str) -> None:
    """Serve ``admit`` / ``revoke`` / ``counters`` / ``leases`` as JSON lines on a unix socket.

    The socket is 0600: whoever can write to it decides who reaches the backends.
    """
    import json
    import os

    if os.path.exists(path):
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        listener.bind(path)
    finally:
        os.umask(old)
    listener.listen(16)

    def serve(conn: socket.socket) -> None:
        with conn, conn.makefile('rw') as f:
            for line in f:
                try:
                    req = json.loads(line)
                    op = req.get('op')
                    if op == 'admit':
                        gateway.admit(req['lease_id'], req['token_sha256'],
                                      base.BackendEndpoint.parse(req['backend']),
                                      int(req.get('max_connections', 8)), req.get('expires_at'))
                        answer = {'ok': True}
                    elif op == 'revoke':
                        answer = {'ok': True, 'closed': gateway.revoke(req['lease_id'])}
                    elif op == 'counters':
                        answer = {'ok': True, **gateway.counters(req['lease_id']).to_dict()}
                    elif op == 'leases':
                        answer = {'ok': True, 'leases': list(gateway.leases())}
                    else:
                        answer = {'ok': False, 'error': f'unknown op {op!r}'}
                except (KeyError, TypeError, ValueError, base.RemotingError) as exc:
                    answer = {'ok': False, 'error': str(exc)}
                f.write(json.dumps(answer) + '\n')
                f.flush()

    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


def control(path: str, op: str, **args) -> dict:
    """Send one request to a ``pooling-gateway`` control socket and return its answer."""
    import json

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(path)
        with sock.makefile('rw') as f:
            f.write(json.dumps(dict(args, op=op)) + '\n')
            f.flush()
            return json.loads(f.readline())


def main(argv=None) -> int:
    """``pooling-gateway``: the gateway with [gateway] options and a local control socket."""
    import argparse

    from oslo_config import cfg

    from pooling.conf import gateway as gateway_conf
    from pooling.gateway import pki

    parser = argparse.ArgumentParser(prog='pooling-gateway', description=main.__doc__)
    parser.add_argument('--control', required=True,
                        help='unix socket the agent (or a test) admits leases through')
    parser.add_argument('--config-file', action='append', default=[])
    parser.add_argument('--port', type=int, help='override [gateway] port (0 = any)')
    parser.add_argument('--host', help='override [gateway] host')
    args = parser.parse_args(argv)
    conf = cfg.ConfigOpts()
    gateway_conf.register_opts(conf)
    conf([], project='pooling', default_config_files=args.config_file)
    opts = conf.gateway
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(message)s')
    cert, key = opts.cert_file, opts.key_file
    if not cert:
        if not opts.auto_pki_dir:
            parser.error('set [gateway] cert_file and key_file, or auto_pki_dir')
        files = pki.ensure(opts.auto_pki_dir, [opts.advertise_host or socket.gethostname(),
                                               'localhost', '127.0.0.1'])
        cert, key = files.cert_file, files.key_file
    gateway = Gateway(server_context(cert, key), args.host or opts.host,
                      opts.port if args.port is None else args.port,
                      opts.handshake_timeout, opts.preamble_timeout, opts.max_pending)
    host, port = gateway.start()
    print(f'LISTENING {host}:{port}', flush=True)
    try:
        _control_loop(gateway, args.control)
    except KeyboardInterrupt:
        gateway.stop()
    return 0
