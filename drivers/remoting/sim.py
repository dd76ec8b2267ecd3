"""The ``sim`` remoting plugin: real bytes on simulated cards, one server process per lease.

Each lease runs :mod:`pooling_drivers.remoting.simserver` (host memory as device memory, numpy
kernels) with the slice's memory limit and compute share, listening on a unix socket
``<run_dir>/sim-<lease>.sock`` (mode 0600, so only the agent's user -- the gateway -- reaches
it).  The process is supervised (:mod:`pooling_drivers.remoting.supervisor`).  Counters come
from the server itself over a control connection.

Options: ``run_dir`` (default ``$TMPDIR/pooling-remoting``), ``python`` (interpreter, default
this one), ``max_restarts`` (5), ``backoff_initial`` (0.5 s), ``start_timeout`` (15 s),
``listen`` (``unix`` or ``tcp``: a loopback port instead of a socket file).
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
import os
import sys
import tempfile
import threading
from typing import Any

from pooling_drivers.remoting import base
from pooling_drivers.remoting import simclient
from pooling_drivers.remoting import supervisor


class SimDriver(base.RemotingDriver):
    name = 'sim'
    protocol = 'sim'

    def __init__(self, options: Mapping[str, Any] | None = None,
                 on_degraded: base.DegradedCallback | None = None) -> None:
        super().__init__(options, on_degraded)
        self.run_dir = str(self.options.get('run_dir')
                           or os.path.join(tempfile.gettempdir(), 'pooling-remoting'))
        self._leases: dict[str, tuple[base.RemoteSliceRequest, supervisor.Supervisor,
                                      base.BackendEndpoint]] = {}
        self._lock = threading.Lock()

    def _argv(self, request: base.RemoteSliceRequest, listen: str) -> list[str]:
        return [str(self.options.get('python') or sys.executable), '-m',
                'pooling_drivers.remoting.simserver', '--listen', listen,
                '--devices', ','.join(request.visible_uuids),
                '--memory-mib', str(request.memory_mib),
                '--compute-pct', str(request.compute_pct)]

    def start(self, request: base.RemoteSliceRequest) -> base.BackendEndpoint:
        with self._lock:
            running = self._leases.get(request.lease_id)
            if running is not None:
                if running[0] != request:
                    raise base.RemotingError(
                        f'lease {request.lease_id} runs already with another request')
                return running[2]
            os.makedirs(self.run_dir, mode=0o700, exist_ok=True)
            if self.options.get('listen', 'unix') == 'tcp':
                listen = '127.0.0.1:0'
            else:
                listen = 'unix:' + os.path.join(self.run_dir, f'sim-{request.lease_id}.sock')
            env = dict(os.environ)
            env.update(request.isolation_env)
            pidfile = os.path.join(self.run_dir, f'sim-{request.lease_id}.pid')
            supervisor.kill_stale(pidfile)  # left by an agent that died
            sup = supervisor.Supervisor(
                request.lease_id, self._argv(request, listen), env, r'^READY (\S+)$',
                on_degraded=self.on_degraded,
                max_restarts=int(self.options.get('max_restarts', 5)),
                backoff_initial=float(self.options.get('backoff_initial', 0.5)),
                start_timeout=float(self.options.get('start_timeout', 15)), pidfile=pidfile)
            match = sup.start()
            endpoint = base.BackendEndpoint.parse(match.group(1))
            if endpoint.transport == 'tcp':
                # NOTE: a restart with port 0 would move; pin the port it got for restarts.
                sup.argv[sup.argv.index('--listen') + 1] = endpoint.address
            self._leases[request.lease_id] = (request, sup, endpoint)
            return endpoint

    def stop(self, lease_id: str) -> None:
        with self._lock:
            running = self._leases.pop(lease_id, None)
        if running is None:
            return
        running[1].stop()
        if running[2].transport == 'unix':
            try:
                os.unlink(running[2].path)
            except FileNotFoundError:
                pass

    def _get(self, lease_id: str):
        with self._lock:
            running = self._leases.get(lease_id)
        if running is None:
            raise base.LeaseNotFound(f'no sim backend for lease {lease_id}')
        return running

    def health(self, lease_id: str) -> base.BackendHealth:
        return self._get(lease_id)[1].health()

    def counters(self, lease_id: str) -> base.LeaseCounters:
        _, sup, endpoint = self._get(lease_id)
        try:
            conn = simclient.Connection(endpoint.address, timeout=5.0)
            try:
                stats = conn.call('stats')
            finally:
                conn.close()
        except (OSError, simclient.SimError) as exc:
            raise base.RemotingError(f'sim backend of lease {lease_id} does not answer: '
                                     f'{exc}') from exc
        return base.LeaseCounters(lease_id, stats['bytes_in'], stats['bytes_out'],
                                  stats['connections'], stats['connections_total'],
                                  stats['last_use'])

    def leases(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(self._leases)

    def reap_orphans(self) -> list[str]:
        return supervisor.reap(self.run_dir, 'sim', set(self.leases()))

    @classmethod
    def client_env(cls, local_addresses: Sequence[str],
                   options: Mapping[str, Any] | None = None) -> dict[str, str]:
        return {simclient.ENV: ','.join(local_addresses)}
