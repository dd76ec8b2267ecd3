"""The remote side of a device host: backends (``pooling.remoting``) and the gateway.

When a slice's consumer runs on another host, the agent starts one backend per
vGPU and host (``RemotingDriver.start``), admits the vGPU's lease in this
host's TLS gateway (``pooling.gateway.server.Gateway``, run in the agent) with
the credential's SHA-256, and answers the gateway address, lease id and CA the
consumer's lease document needs. Release revokes the lease (its connections
close) and stops the backend.

Every lease is recorded under ``[agent] state_dir``: after an agent restart
the backends are started again and the leases admitted again (the gateway and
backends died with the old process), or released when the pool no longer
holds them. A backend its plugin gives up on marks the vGPU degraded and the
conductor moves it (``backend_failed``).
"""

from __future__ import annotations

import datetime
import json
import os
import threading

from oslo_log import log as logging

from pooling.gateway import pki
from pooling.gateway import server as gateway_server
from pooling.objects import prepare as prepare_obj
from pooling_drivers.remoting import base as remoting

LOG = logging.getLogger(__name__)
_PKI_LOCK = threading.Lock()


def backend_name(conf) -> str:
    """``[agent] remoting_backend``, else ``sim`` on sim cards and ``lupine`` elsewhere."""
    if conf.agent.remoting_backend:
        return conf.agent.remoting_backend
    return 'sim' if 'sim' in (conf.agent.enabled_drivers or []) else 'lupine'


def backend_options(conf, name: str) -> dict:
    """The options of plugin ``name``: the ``[remoting_<name>]`` group when one is registered."""
    group = 'remoting_' + name
    try:
        values = conf[group]
    except Exception:  # oslo.config raises NoSuchOptError for an unknown group
        return {}
    return {key: values[key] for key in values if values[key] is not None}


class RemoteSlices:
    """This host's remote backends, its gateway, and their records."""

    def __init__(self, conf, on_failed, driver=None):
        self.conf = conf
        self.host = conf.agent.host
        self.on_failed = on_failed  # (vgpu_uuid, reason)
        self.name = backend_name(conf)
        self._driver = driver
        self.gateway = None
        self.advertise = conf.gateway.advertise_host or self.host
        self.ca_cert = ''
        self._records: dict[str, dict] = {}
        # The last counters of leases revoked since the last heartbeat (the gateway forgets a
        # revoked lease at once); sent once with the next one.
        self._final: dict[str, dict] = {}
        self._lock = threading.RLock()
        self._state_dir = (os.path.join(conf.agent.state_dir, conf.agent.host, 'remote')
                           if conf.agent.state_dir else '')

    # -- plumbing ------------------------------------------------------------------------
    @property
    def driver(self) -> remoting.RemotingDriver:
        with self._lock:
            if self._driver is None:
                self._driver = remoting.load(self.name, backend_options(self.conf, self.name),
                                             on_degraded=self._degraded)
            return self._driver

    def _ensure_gateway(self):
        with self._lock:
            if self.gateway is not None:
                return self.gateway
            g = self.conf.gateway
            cert, key, ca = g.cert_file, g.key_file, g.ca_file
            if not cert:
                if not g.auto_pki_dir:
                    raise remoting.BackendUnavailable(
                        'the gateway has no certificate: set [gateway] cert_file and key_file '
                        '(or auto_pki_dir for the all-in-one)')
                with _PKI_LOCK:  # the all-in-one's agents share one CA folder
                    files = pki.ensure(g.auto_pki_dir, [self.advertise])
                cert, key, ca = files.cert_file, files.key_file, files.ca_file
            with open(ca or cert, encoding='utf-8') as handle:
                self.ca_cert = handle.read()
            gateway = gateway_server.Gateway(
                gateway_server.server_context(cert, key), host=g.host, port=g.port,
                handshake_timeout=g.handshake_timeout, preamble_timeout=g.preamble_timeout,
                max_pending=g.max_pending)
            gateway.start()
            self.gateway = gateway
            return gateway

    def _degraded(self, lease_id: str, reason: str) -> None:
        record = self._records.get(lease_id)
        if record is None:
            return
        LOG.warning('Remote backend of vGPU %s (lease %s) given up: %s',
                    record['vgpu_uuid'], lease_id, reason)
        self.on_failed(record['vgpu_uuid'], reason)

    # -- the prepare path ----------------------------------------------------------------
    def serve(self, request, attachments: list) -> dict:
        """Start the backend of ``request``'s cards on this host and admit its lease."""
        remote_request = request.remote_request(self.host, attachments)
        lease_id = remote_request.lease_id
        with self._lock:
            gateway = self._ensure_gateway()
            endpoint = self.driver.start(remote_request)
            self._admit(gateway, lease_id, request.lease, endpoint)
            self._remember(lease_id, {
                'vgpu_uuid': request.vgpu_uuid, 'request': remote_request.to_dict(),
                'endpoint': endpoint.to_dict(), 'lease': _lease_dict(request.lease)})
        return {'protocol': self.driver.protocol,
                'gateway': '%s:%d' % (self.advertise, gateway.address[1]),
                'lease_id': lease_id, 'cards': len(remote_request.visible_uuids),
                'server_name': self.advertise, 'ca_cert': self.ca_cert}

    def stop(self, request) -> None:
        """Revoke the lease (its connections close) and stop its backend; idempotent."""
        if request.lease is None:
            return
        lease_id = request.lease_id_on(self.host)
        with self._lock:
            if self.gateway is not None:
                self._revoke(self.gateway, lease_id)
            if lease_id in self._records or self._driver is not None:
                self.driver.stop(lease_id)
            self._forget(lease_id)

    def update(self, request) -> None:
        """Admit the lease's current credential, or revoke it when there is none."""
        lease_id = request.lease_id_on(self.host)
        with self._lock:
            record = self._records.get(lease_id)
            if record is None:
                raise remoting.LeaseNotFound('lease %s is not served on %s'
                                             % (lease_id, self.host))
            gateway = self._ensure_gateway()
            if request.lease.token_sha256:
                self._admit(gateway, lease_id, request.lease,
                            remoting.BackendEndpoint.from_dict(record['endpoint']))
            else:
                self._revoke(gateway, lease_id)
            record['lease'] = _lease_dict(request.lease)
            self._remember(lease_id, record)

    def _admit(self, gateway, lease_id, lease, endpoint) -> None:
        if lease is None or not lease.token_sha256:
            # NOTE: no credential issued yet: nothing can connect until the
            # owner asks the API for one (update() admits it then).
            self._revoke(gateway, lease_id)
            return
        gateway.admit(lease_id, lease.token_sha256, endpoint,
                      max_connections=lease.max_connections,
                      expires_at=_epoch(lease.expires_at))

    def _revoke(self, gateway, lease_id: str) -> None:
        """Revoke the lease in the gateway, keeping its last counters for the next heartbeat."""
        record = self._records.get(lease_id)
        if record is not None and lease_id in gateway.leases():
            try:
                self._final[lease_id] = {**gateway.counters(lease_id).to_dict(),
                                         'vgpu_uuid': record['vgpu_uuid'], 'connections': 0}
            except remoting.LeaseNotFound:
                pass
        gateway.revoke(lease_id)

    # -- restart, health -----------------------------------------------------------------
    def lease_ids(self) -> dict[str, str]:
        with self._lock:
            return {lease_id: r['vgpu_uuid'] for lease_id, r in self._records.items()}

    def counters(self) -> list[dict]:
        """The gateway's counters of each lease served here (sent with the heartbeat).

        A lease the gateway does not know (its credential not issued yet) counts nothing and is
        left out; a lease revoked since the last heartbeat is sent once with its last counters.
        """
        with self._lock:
            gateway, records = self.gateway, dict(self._records)
            final, self._final = self._final, {}
        if gateway is None:
            return list(final.values())
        admitted, found = set(gateway.leases()), []
        for lease_id, record in sorted(records.items()):
            if lease_id not in admitted:
                continue
            try:
                counted = gateway.counters(lease_id)
            except remoting.LeaseNotFound:  # revoked since
                continue
            found.append({**counted.to_dict(), 'vgpu_uuid': record['vgpu_uuid']})
            final.pop(lease_id, None)  # admitted again since: the gateway's count is current
        return found + [final[k] for k in sorted(final)]

    def restore(self) -> list[str]:
        """Start again the backends recorded before a restart; returns their lease ids."""
        records = {}
        if self._state_dir and os.path.isdir(self._state_dir):
            for name in sorted(os.listdir(self._state_dir)):
                if name.endswith('.json'):
                    try:
                        with open(os.path.join(self._state_dir, name), encoding='utf-8') as f:
                            record = json.load(f)
                        records[name[:-5]] = record
                    except (OSError, ValueError) as exc:
                        LOG.warning('Remote lease record %s unreadable, ignored: %s', name, exc)
        restored = []
        for lease_id, record in records.items():
            try:
                with self._lock:
                    gateway = self._ensure_gateway()
                    endpoint = self.driver.start(
                        remoting.RemoteSliceRequest.from_dict(record['request']))
                    record['endpoint'] = endpoint.to_dict()
                    lease = prepare_obj.Lease(**record['lease']) if record.get('lease') else None
                    self._admit(gateway, lease_id, lease, endpoint)
                    self._remember(lease_id, record)
                restored.append(lease_id)
                LOG.info('Restored the remote backend of vGPU %s (lease %s)',
                         record['vgpu_uuid'], lease_id)
            except Exception as exc:
                LOG.warning('Cannot restore lease %s of vGPU %s: %s', lease_id,
                            record.get('vgpu_uuid'), exc)
                self._records[lease_id] = record
                self.on_failed(record.get('vgpu_uuid'), 'backend not restored after an agent '
                                                        'restart: %s' % exc)
        return restored

    def check(self) -> None:
        """Tell the conductor about backends the plugin gave up on (or lost)."""
        for lease_id, vgpu_uuid in self.lease_ids().items():
            try:
                health = self.driver.health(lease_id)
            except remoting.LeaseNotFound:
                self.on_failed(vgpu_uuid, 'backend of lease %s is gone' % lease_id)
                continue
            except Exception as exc:
                LOG.warning('Health of lease %s: %s', lease_id, exc)
                continue
            if health.state in (remoting.DEGRADED, remoting.STOPPED):
                self.on_failed(vgpu_uuid, health.detail or health.state)

    def close(self) -> None:
        with self._lock:
            if self.gateway is not None:
                self.gateway.stop()
            if self._driver is not None:
                try:
                    self._driver.stop_all()
                except NotImplementedError:
                    pass

    # -- records ---------------------------------------------------------------------------
    def _remember(self, lease_id: str, record: dict) -> None:
        self._records[lease_id] = record
        if self._state_dir:
            os.makedirs(self._state_dir, exist_ok=True)
            path = os.path.join(self._state_dir, lease_id + '.json')
            with open(path + '.tmp', 'w', encoding='utf-8') as handle:
                json.dump(record, handle)
            os.replace(path + '.tmp', path)

    def _forget(self, lease_id: str) -> None:
        self._records.pop(lease_id, None)
        if self._state_dir:
            try:
                os.remove(os.path.join(self._state_dir, lease_id + '.json'))
            except FileNotFoundError:
                pass


def _lease_dict(lease) -> dict | None:
    if lease is None:
        return None
    return {'lease_id': lease.lease_id, 'token_sha256': lease.token_sha256,
            'expires_at': lease.expires_at, 'max_connections': lease.max_connections}


def _epoch(iso: str):
    if not iso:
        return None
    return datetime.datetime.strptime(iso, '%Y-%m-%dT%H:%M:%SZ').replace(
        tzinfo=datetime.timezone.utc).timestamp()
