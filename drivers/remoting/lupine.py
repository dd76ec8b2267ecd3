"""The ``lupine`` remoting plugin: one LUPINE server process per remote lease.

LUPINE (Apache-2.0, formerly SCUDA) forwards the CUDA driver API and NVML over HTTP/2; its client
side is a drop-in ``libcuda.so.1`` + ``libnvidia-ml.so.1``.  Operators install it from its own
releases (it is on no package registry and the project ships none of its code); ``server_path``
and ``expected_version`` pin it, and :meth:`LupineDriver.probe` says when it is missing or of
another version.

Per lease the server runs with ``CUDA_VISIBLE_DEVICES=<GPU or MIG uuids, card order>``, the
slice's isolation environment (MPS limits, HAMi-core preload) and ``LUPINE_PORT``, supervised
(restart with backoff, degraded after ``max_restarts``).  LUPINE binds every IPv4 address and has
no authentication, so with ``confinement = netns`` (the default) it runs in a network namespace
of its own and the agent reaches it only through a unix-socket relay
(:mod:`pooling_drivers.remoting.netns`), which also counts the lease's bytes.  ``confinement =
none`` runs it on the host on a port from ``port_range`` -- reachable from the network unless a
firewall drops it; for test hosts without root only.

Options: ``server_path`` (``/opt/lupine/bin/lupine_driver_server``), ``expected_version``
(unset = any), ``version_file`` (default ``VERSION`` in the install prefix, i.e. beside
``bin/``), ``client_lib_dir`` (consumer side, ``/opt/lupine/lib``), ``confinement`` (``netns`` |
``none``), ``port`` (14833, inside the namespace), ``port_range`` (``15000:15999``, ``none``
only), ``run_dir``, ``max_restarts`` (5), ``backoff_initial`` (0.5 s), ``start_timeout`` (20 s),
``env`` (extra ``KEY=VALUE`` for the server, e.g. ``LUPINE_LOG_LEVEL``).
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
import logging
import os
import re
import socket
import subprocess
import tempfile
import threading
from typing import Any

from pooling_drivers.remoting import base
from pooling_drivers.remoting import netns
from pooling_drivers.remoting import supervisor

LOG = logging.getLogger(__name__)
DEFAULT_SERVER = '/opt/lupine/bin/lupine_driver_server'
DEFAULT_CLIENT_LIB = '/opt/lupine/lib'
DEFAULT_PORT = 14833
READY = r'listening on port (\d+)'
_VERSION = re.compile(r'v?(\d+\.\d+(?:\.\d+)?(?:[-+.][0-9A-Za-z.]+)?)')


def read_version(server_path: str, version_file: str | None = None,
                 timeout: float = 5.0) -> tuple[str | None, str]:
    """The installed LUPINE's version and where it came from.

    Reads ``version_file`` (default ``<prefix>/VERSION``), else runs ``server --version`` --
    inside a throwaway network namespace when possible, because a server that ignores the flag
    would otherwise listen on every address until the timeout.
    """
    version_file = version_file or os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(server_path))), 'VERSION')
    try:
        with open(version_file) as f:
            match = _VERSION.search(f.read())
        if match:
            return match.group(1), version_file
    except OSError:
        pass
    argv = [server_path, '--version']
    if netns.available() is None:
        argv = netns.wrap(argv)
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                             env=dict(os.environ, LUPINE_PORT='0')).stdout
    except subprocess.TimeoutExpired:
        return None, f'{server_path} --version did not answer within {timeout:.0f} s'
    except OSError as exc:
        return None, f'cannot run {server_path}: {exc.strerror}'
    match = _VERSION.search(out)
    return (match.group(1), f'{server_path} --version') if match else (
        None, f'no version in the output of {server_path} --version')


def handshake(sock: socket.socket, timeout: float = 5.0) -> dict[str, str]:
    """Open a LUPINE session the way its client does (HTTP/2 prior knowledge, ``POST /``).

    :returns: the response headers (``:status``, ``x-lupine-cuda-version`` ...).
    :raises base.RemotingError: no HTTP/2 answer. Needs the ``h2`` library.
    """
    try:
        import h2.config
        import h2.connection
        import h2.events
    except ImportError as exc:
        raise base.RemotingError('the handshake check needs the h2 library') from exc
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True,
                                                                header_encoding='utf-8'))
    conn.initiate_connection()
    stream = conn.get_next_available_stream_id()
    conn.send_headers(stream, [(':method', 'POST'), (':scheme', 'http'), (':authority', 'lupine'),
                               (':path', '/'), ('x-lupine-compress', 'lz4')])
    sock.settimeout(timeout)
    try:
        sock.sendall(conn.data_to_send())
        while True:
            data = sock.recv(65536)
            if not data:
                raise base.RemotingError('the server closed the connection during the '
                                         'handshake')
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived) and event.stream_id == stream:
                    return dict(event.headers)
            pending = conn.data_to_send()
            if pending:
                sock.sendall(pending)
    except (OSError, h2.exceptions.ProtocolError) as exc:
        raise base.RemotingError(f'no HTTP/2 answer from the server: {exc}') from exc


class _Lease:
    def __init__(self, request, sup, relay) -> None:
        self.request, self.sup, self.relay = request, sup, relay


class LupineDriver(base.RemotingDriver):
    name = 'lupine'
    protocol = 'lupine'

    def __init__(self, options: Mapping[str, Any] | None = None,
                 on_degraded: base.DegradedCallback | None = None) -> None:
        super().__init__(options, on_degraded)
        opts = self.options
        self.server_path = str(opts.get('server_path') or DEFAULT_SERVER)
        self.expected_version = opts.get('expected_version') or None
        self.confinement = str(opts.get('confinement') or 'netns')
        if self.confinement not in ('netns', 'none'):
            raise ValueError(f'confinement must be netns or none, not {self.confinement!r}')
        self.port = int(opts.get('port') or DEFAULT_PORT)
        low, _, high = str(opts.get('port_range') or '15000:15999').partition(':')
        self.port_range = (int(low), int(high or low))
        self.run_dir = str(opts.get('run_dir')
                           or os.path.join(tempfile.gettempdir(), 'pooling-remoting'))
        self._leases: dict[str, _Lease] = {}
        self._lock = threading.Lock()
        self._version_ok: bool | None = None

    # -- probe ------------------------------------------------------------------------------
    def probe(self) -> base.ProbeResult:
        path = self.server_path
        if not os.path.isfile(path) or not os.access(path, os.X_OK):
            return base.ProbeResult(self.name, False, None, self.expected_version,
                                    f'LUPINE server {path} is not installed (or not '
                                    f'executable); install it from its releases and set '
                                    f'[remoting_lupine] server_path')
        version, source = read_version(path, self.options.get('version_file'))
        problems = []
        confinable = True
        if self.confinement == 'netns':
            reason = netns.available()
            if reason:
                confinable = False
                problems.append(f'cannot confine it in a network namespace: {reason}')
        if self.expected_version and version != self.expected_version:
            problems.append(f'installed version {version or "unknown"} ({source}) is not the '
                            f'expected {self.expected_version}')
        detail = '; '.join(problems) or f'version {version or "unknown"} from {source}'
        return base.ProbeResult(self.name, confinable, version, self.expected_version, detail)

    def _check_installed(self) -> None:
        if self._version_ok:
            return
        result = self.probe()
        if not result.ok:
            raise base.BackendUnavailable(f'LUPINE cannot serve here: {result.detail}')
        self._version_ok = True

    # -- leases -----------------------------------------------------------------------------
    def _free_port(self) -> int:
        used = {lease.relay.port for lease in self._leases.values()}
        for port in range(self.port_range[0], self.port_range[1] + 1):
            if port in used:
                continue
            with socket.socket() as probe:
                try:
                    probe.bind(('0.0.0.0', port))
                except OSError:
                    continue
            return port
        raise base.BackendUnavailable(f'no free port in {self.port_range}')

    def start(self, request: base.RemoteSliceRequest) -> base.BackendEndpoint:
        with self._lock:
            running = self._leases.get(request.lease_id)
            if running is not None:
                if running.request != request:
                    raise base.RemotingError(
                        f'lease {request.lease_id} runs already with another request')
                return running.relay.endpoint
            self._check_installed()
            os.makedirs(self.run_dir, mode=0o700, exist_ok=True)
            port = self.port if self.confinement == 'netns' else self._free_port()
            env = dict(os.environ)
            env.update({str(k): str(v) for k, v in dict(self.options.get('env') or {}).items()})
            env.update(request.isolation_env)
            env['CUDA_VISIBLE_DEVICES'] = ','.join(request.visible_uuids)
            env['LUPINE_PORT'] = str(port)
            argv = [self.server_path]
            if self.confinement == 'netns':
                argv = netns.wrap(argv)
            else:
                LOG.warning('LUPINE of lease %s runs unconfined on port %d: it is reachable '
                            'from the network unless a firewall drops it', request.lease_id,
                            port)
            pidfile = os.path.join(self.run_dir, f'lupine-{request.lease_id}.pid')
            supervisor.kill_stale(pidfile)  # left by an agent that died
            sup = supervisor.Supervisor(
                request.lease_id, argv, env, READY, on_degraded=self.on_degraded,
                pidfile=pidfile,
                max_restarts=int(self.options.get('max_restarts', 5)),
                backoff_initial=float(self.options.get('backoff_initial', 0.5)),
                start_timeout=float(self.options.get('start_timeout', 20)))
            sup.start()
            pid_of = (lambda: sup.pid) if self.confinement == 'netns' else (lambda: None)
            try:
                relay = netns.Relay(request.lease_id,
                                    os.path.join(self.run_dir, f'lupine-{request.lease_id}.sock'),
                                    port, pid_of)
            except OSError as exc:
                sup.stop()
                raise base.BackendUnavailable(f'cannot make the relay of lease '
                                              f'{request.lease_id}: {exc}') from exc
            self._leases[request.lease_id] = _Lease(request, sup, relay)
            LOG.info('LUPINE for lease %s (vGPU %s, %s) ready, pid %s', request.lease_id,
                     request.vgpu_uuid, env['CUDA_VISIBLE_DEVICES'], sup.pid)
            return relay.endpoint

    def stop(self, lease_id: str) -> None:
        with self._lock:
            lease = self._leases.pop(lease_id, None)
        if lease is None:
            return
        lease.relay.close()
        lease.sup.stop()

    def _get(self, lease_id: str) -> _Lease:
        with self._lock:
            lease = self._leases.get(lease_id)
        if lease is None:
            raise base.LeaseNotFound(f'no LUPINE server for lease {lease_id}')
        return lease

    def health(self, lease_id: str) -> base.BackendHealth:
        return self._get(lease_id).sup.health()

    def counters(self, lease_id: str) -> base.LeaseCounters:
        return self._get(lease_id).relay.counters()

    def leases(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(self._leases)

    def reap_orphans(self) -> list[str]:
        return supervisor.reap(self.run_dir, 'lupine', set(self.leases()))

    @classmethod
    def client_env(cls, local_addresses: Sequence[str],
                   options: Mapping[str, Any] | None = None) -> dict[str, str]:
        """``LUPINE_SERVER`` in card order, the shim's folder first on ``LD_LIBRARY_PATH``.

        ``LUPINE_DISABLE_LOCAL=1``: a consumer that has a GPU of its own sees only the vGPU.
        """
        lib = (options or {}).get('client_lib_dir') or DEFAULT_CLIENT_LIB
        return {'LUPINE_SERVER': ','.join(local_addresses), 'LD_LIBRARY_PATH': lib,
                'LUPINE_DISABLE_LOCAL': '1'}
