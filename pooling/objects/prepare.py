"""The one typed request of the prepare path: conductor → agent → plugins.

The conductor reads a vGPU once (``from_vgpu``), cuts the request per device
host (``for_host``) and sends its primitive over oslo.messaging once
(``to_primitive``); the agent rebuilds it (``from_primitive``) and hands each
plugin its own contract's frozen dataclass, derived here and nowhere else:
``pooling.isolation`` gets :class:`pooling_drivers.isolation.base.SliceRequest`
(the ``slice`` of each :class:`Slice`), ``pooling.remoting`` gets
:class:`pooling_drivers.remoting.base.RemoteSliceRequest`
(:meth:`PrepareRequest.remote_request`). Before this module a slice changed
shape five times between the DB row and the isolation plugin, and the remote
endpoint was made up by the conductor.

The lease carries only the credential's SHA-256; the credential itself is
handed to the vGPU's owner by the API and never travels on the bus.
"""

from __future__ import annotations

from collections.abc import Mapping
import dataclasses
from typing import Any

from pooling_drivers.isolation import base as iso
from pooling_drivers.remoting import base as remoting

#: Bumped when the primitive changes shape; an agent refuses what it cannot read.
VERSION = 1


#: The attachment key of where the consumer ran when placed (``pooling.objects.vgpu.LOCATION``).
LOCATION = 'consumer_location'


def consumer_runs_on(vgpu: Mapping[str, Any]) -> str | None:
    """The host the vGPU's consumer uses it from: where it was located (a vSphere VM's ESXi
    host, ``pooling.locate``), else the consumer's own host."""
    return ((vgpu.get('attachment') or {}).get(LOCATION)
            or (vgpu.get('consumer') or {}).get('host'))


#: Consumer platforms whose guests cannot be handed a fraction of a card of their own host as a
#: device: Nova attaches whole cards (PCI) only, so a Nova guest reaches a fractional slice
#: through the remote data plane (its lease from vendordata) even on the card's host.
FRACTIONS_THROUGH_DATA_PLANE = ('nova',)


def consumer_elsewhere(vgpu: Mapping[str, Any]) -> bool:
    """The vGPU's consumer runs on another host than its cards' (its host is known).

    A vSphere VM's vGPU on a card of the VM's own ESXi host is local although its consumer
    names the vCenter: a dead ESXi host does not move it.
    """
    runs_on = consumer_runs_on(vgpu)
    hosts = {s['host'] for s in vgpu.get('slices') or ()}
    return bool(runs_on) and bool(hosts) and hosts != {runs_on}


def is_remote(vgpu: Mapping[str, Any]) -> bool:
    """The vGPU is served through the remote data plane (a backend, the gateway, a lease).

    That is a vGPU used from another host than its cards', and a Nova guest's fraction of a
    card even on the card's own host (``FRACTIONS_THROUGH_DATA_PLANE``).
    """
    if consumer_elsewhere(vgpu):
        return True
    consumer = vgpu.get('consumer') or {}
    return (consumer.get('platform') in FRACTIONS_THROUGH_DATA_PLANE
            and any(int(s['compute_milli']) < 1000 for s in vgpu.get('slices') or ()))


@dataclasses.dataclass(frozen=True)
class Lease:
    """A remote vGPU's lease as the gateways admit it (no secret inside)."""

    lease_id: str
    token_sha256: str
    expires_at: str  # ISO 8601, UTC, ``Z``
    max_connections: int = 4


@dataclasses.dataclass(frozen=True)
class Slice:
    """One slice: where it lives, the isolation plugin's request, what prepare returned."""

    host: str
    request: iso.SliceRequest
    attachment: Mapping[str, Any] | None = None


@dataclasses.dataclass(frozen=True)
class PrepareRequest:
    """Prepare (or release) the slices of one vGPU, possibly cut to one host.

    ``remote`` is true when the consumer runs on another host than the slices:
    the device host then starts a ``pooling.remoting`` backend for the vGPU's
    cards on it and admits ``lease`` in its gateway.
    """

    vgpu_uuid: str
    project_id: str
    isolation: str
    locality: str
    consumer_host: str | None
    slices: tuple[Slice, ...]
    remote: bool = False
    lease: Lease | None = None
    remote_attachment: Mapping[str, Any] | None = None
    #: Every device host of the vGPU in card order (kept when cut to one host).
    all_hosts: tuple[str, ...] = ()
    #: The consumer's platform (``nova``, ``cdi``, ``vmware`` ...): a discovered host answers
    #: only for its own platform's consumers (``pooling.agent.discovered``).
    consumer_platform: str | None = None
    #: Where the consumer was located when placed, when not ``consumer_host`` (an ESXi host).
    consumer_location: str | None = None

    # --- building ------------------------------------------------------
    @classmethod
    def from_vgpu(cls, vgpu: Mapping[str, Any], lease: Lease | None = None) -> PrepareRequest:
        """Build the request from the vGPU objects' dict (``pooling.objects.vgpu``)."""
        consumer_host = (vgpu.get('consumer') or {}).get('host')
        consumer_platform = (vgpu.get('consumer') or {}).get('platform')
        isolation = vgpu.get('isolation') or 'none'
        attachment = vgpu.get('attachment') or {}
        per_slice = attachment.get('slices') or []
        slices = tuple(
            Slice(host=s['host'],
                  request=iso.SliceRequest(
                      vgpu_uuid=vgpu['uuid'], index=int(s['index']),
                      device_uuid=s['device_uuid'], compute_milli=int(s['compute_milli']),
                      memory_mb=int(s['memory_mb']), isolation=isolation,
                      count=int(vgpu.get('count') or 1)),
                  attachment=(per_slice[s['index']] if s['index'] < len(per_slice) else None))
            for s in vgpu['slices'])
        remote = is_remote(vgpu)
        return cls(vgpu_uuid=vgpu['uuid'], project_id=vgpu['project_id'], isolation=isolation,
                   locality=vgpu.get('locality') or 'remote-allowed',
                   consumer_host=consumer_host, slices=slices, remote=remote,
                   lease=lease if remote else None,
                   remote_attachment=attachment.get('remote'),
                   all_hosts=tuple(dict.fromkeys(s.host for s in slices)),
                   consumer_platform=consumer_platform,
                   consumer_location=attachment.get(LOCATION))

    def hosts(self) -> list[str]:
        """The device hosts of the slices, in slice order, once each."""
        return list(dict.fromkeys(s.host for s in self.slices))

    def for_host(self, host: str) -> PrepareRequest:
        """The same request with only ``host``'s slices."""
        return dataclasses.replace(self, slices=tuple(s for s in self.slices if s.host == host))

    # --- what the plugins get -------------------------------------------
    def lease_id_on(self, host: str) -> str:
        """The lease's id in ``host``'s gateway and remoting backend (one per vGPU and host)."""
        if self.lease is None:
            raise ValueError(f'vGPU {self.vgpu_uuid} is not remote: no lease')
        hosts = list(self.all_hosts) or self.hosts()
        return self.lease.lease_id if len(hosts) < 2 else (
            f'{self.lease.lease_id}.{hosts.index(host)}')

    def remote_request(self, host: str, attachments: list[Mapping[str, Any]]
                       ) -> remoting.RemoteSliceRequest:
        """The ``pooling.remoting`` request for this host's cards, given their attachments.

        :param attachments: the isolation plugins' attachments of this host's slices,
            in slice order (they name the uuid to make visible and the environment).
        """
        mine = [s for s in self.slices if s.host == host]
        env: dict[str, str] = {}
        for attachment in attachments:
            env.update(attachment.get('env') or {})
        return remoting.RemoteSliceRequest(
            lease_id=self.lease_id_on(host), vgpu_uuid=self.vgpu_uuid,
            visible_uuids=tuple(a['visible_uuid'] for a in attachments),
            memory_mib=max(s.request.memory_mb for s in mine),
            compute_pct=min(100, max(s.request.core_percent for s in mine)),
            isolation_env=env)

    # --- the wire --------------------------------------------------------
    def to_primitive(self) -> dict[str, Any]:
        """The JSON form sent over oslo.messaging (the only serialisation of the path)."""
        return {'version': VERSION, 'vgpu_uuid': self.vgpu_uuid,
                'project_id': self.project_id, 'isolation': self.isolation,
                'locality': self.locality, 'consumer_host': self.consumer_host,
                'consumer_platform': self.consumer_platform,
                'consumer_location': self.consumer_location,
                'remote': self.remote, 'all_hosts': list(self.all_hosts),
                'lease': dataclasses.asdict(self.lease) if self.lease else None,
                'remote_attachment': (dict(self.remote_attachment)
                                      if self.remote_attachment else None),
                'slices': [{'host': s.host, 'index': s.request.index,
                            'device_uuid': s.request.device_uuid,
                            'compute_milli': s.request.compute_milli,
                            'memory_mb': s.request.memory_mb, 'count': s.request.count,
                            'attachment': dict(s.attachment) if s.attachment else None}
                           for s in self.slices]}

    @classmethod
    def from_primitive(cls, data: Mapping[str, Any]) -> PrepareRequest:
        """Rebuild :meth:`to_primitive`'s form. :raises ValueError: it is malformed."""
        if data.get('version') != VERSION:
            raise ValueError(f'prepare request version {data.get("version")!r}; '
                             f'this agent reads {VERSION}')
        try:
            uuid = str(data['vgpu_uuid'])
            isolation = str(data.get('isolation') or 'none')
            lease = Lease(**data['lease']) if data.get('lease') else None
            slices = tuple(
                Slice(host=str(s['host']),
                      request=iso.SliceRequest(
                          vgpu_uuid=uuid, index=int(s['index']),
                          device_uuid=str(s['device_uuid']),
                          compute_milli=int(s['compute_milli']),
                          memory_mb=int(s['memory_mb']), isolation=isolation,
                          count=int(s.get('count') or 1)),
                      attachment=s.get('attachment'))
                for s in data['slices'])
            return cls(vgpu_uuid=uuid, project_id=str(data.get('project_id') or ''),
                       isolation=isolation, locality=str(data.get('locality') or ''),
                       consumer_host=data.get('consumer_host'), slices=slices,
                       remote=bool(data.get('remote')), lease=lease,
                       remote_attachment=data.get('remote_attachment'),
                       all_hosts=tuple(data.get('all_hosts') or ()),
                       consumer_platform=data.get('consumer_platform'),
                       consumer_location=data.get('consumer_location'))
        except (KeyError, TypeError) as exc:
            raise ValueError(f'malformed prepare request: {exc!r}') from exc
