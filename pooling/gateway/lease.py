"""The lease document: what a consumer receives to use a remote vGPU.

One typed place for the format.  The conductor/API build it (``LeaseDocument(...).to_json()``),
Nova vendordata and the API hand it to the vGPU's owner, a platform may mount it as a file, and
``pooling run`` reads it (``LeaseDocument.from_json``).  JSON, version 1::

    {
      "version": 1,
      "vgpu_uuid": "0b6c...",
      "protocol": "sim",                      # or "lupine" (a pooling.remoting plugin's protocol)
      "endpoints": [                          # in card order; one per device host of the vGPU
        {"gateway": "10.0.0.7:14830", "lease_id": "0b6c...-h1", "cards": 1,
         "server_name": "gpu-node-7"}          # TLS name to check; default: gateway's host
      ],
      "token": "<43-char bearer token>",      # the same token for every endpoint of the vGPU
      "expires_at": "2026-12-02T23:59:00Z",
      "ca_cert": "-----BEGIN CERTIFICATE-----\\n..."   # PEM of the CA that signed the gateways
    }

Card order across endpoints is the consumer's device order (``LUPINE_SERVER`` lists servers in
that order).  The token is secret: ``repr`` hides it and nothing may log the document.
"""

from __future__ import annotations

from collections.abc import Mapping
import dataclasses
import datetime
import json
import re
from typing import Any

VERSION = 1
_HOSTPORT = re.compile(r'^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$')
_LEASE_ID = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$')


class LeaseError(ValueError):
    """The lease document is missing, unreadable, malformed or expired."""


class LeaseExpired(LeaseError):
    """The lease's credential has expired; renew it (the API or vendordata gives a new one)."""


def _parse_time(value: Any) -> datetime.datetime:
    if not isinstance(value, str):
        raise LeaseError(f'expires_at must be an ISO 8601 string, not {value!r}')
    try:
        when = datetime.datetime.fromisoformat(value.replace('Z', '+00:00'))
    except ValueError as exc:
        raise LeaseError(f'expires_at {value!r} is not ISO 8601') from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when


def format_time(when: datetime.datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` in UTC."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


@dataclasses.dataclass(frozen=True)
class LeaseEndpoint:
    """One device host's gateway serving ``cards`` consecutive cards of the vGPU."""

    gateway: str
    lease_id: str
    cards: int = 1
    server_name: str = ''

    def __post_init__(self) -> None:
        if not isinstance(self.gateway, str) or not _HOSTPORT.match(self.gateway):
            raise LeaseError(f'gateway {self.gateway!r} must be host:port')
        if not isinstance(self.lease_id, str) or not _LEASE_ID.match(self.lease_id):
            raise LeaseError(f'lease_id {self.lease_id!r} must match {_LEASE_ID.pattern}')
        if not isinstance(self.cards, int) or self.cards < 1:
            raise LeaseError(f'cards must be a positive integer, not {self.cards!r}')

    @property
    def host(self) -> str:
        return _HOSTPORT.match(self.gateway).group(1).strip('[]')

    @property
    def port(self) -> int:
        return int(_HOSTPORT.match(self.gateway).group(2))

    @property
    def tls_name(self) -> str:
        """The name the gateway's certificate must carry."""
        return self.server_name or self.host


@dataclasses.dataclass(frozen=True)
class LeaseDocument:
    """A remote vGPU's lease as its consumer sees it."""

    vgpu_uuid: str
    protocol: str
    endpoints: tuple[LeaseEndpoint, ...]
    token: str = dataclasses.field(repr=False)
    expires_at: datetime.datetime
    ca_cert: str = dataclasses.field(repr=False)
    version: int = VERSION

    def __post_init__(self) -> None:
        if not self.vgpu_uuid or not isinstance(self.vgpu_uuid, str):
            raise LeaseError('vgpu_uuid is missing')
        if not isinstance(self.protocol, str) or not re.match(r'^[a-z][a-z0-9_-]*$',
                                                              self.protocol):
            raise LeaseError(f'protocol {self.protocol!r} is not a plugin name')
        if not self.endpoints:
            raise LeaseError('the lease has no endpoints')
        if not isinstance(self.token, str) or len(self.token) < 32:
            raise LeaseError('the lease has no usable token')
        if not isinstance(self.ca_cert, str) or 'BEGIN CERTIFICATE' not in self.ca_cert:
            raise LeaseError('ca_cert must be a PEM certificate')
        if self.version != VERSION:
            raise LeaseError(f'lease document version {self.version!r}; this client reads '
                             f'version {VERSION}')
        if self.expires_at.tzinfo is None:
            object.__setattr__(self, 'expires_at',
                               self.expires_at.replace(tzinfo=datetime.timezone.utc))

    @property
    def card_count(self) -> int:
        return sum(e.cards for e in self.endpoints)

    def expired(self, now: datetime.datetime | None = None) -> bool:
        return self.expires_at <= (now or datetime.datetime.now(datetime.timezone.utc))

    def check_live(self, now: datetime.datetime | None = None) -> None:
        """:raises LeaseExpired: the credential has expired."""
        if self.expired(now):
            raise LeaseExpired(f'the lease of vGPU {self.vgpu_uuid} expired at '
                               f'{format_time(self.expires_at)}; get a renewed lease')

    def to_dict(self) -> dict[str, Any]:
        return {'version': self.version, 'vgpu_uuid': self.vgpu_uuid, 'protocol': self.protocol,
                'endpoints': [{k: v for k, v in dataclasses.asdict(e).items()
                               if v or k != 'server_name'} for e in self.endpoints],
                'token': self.token, 'expires_at': format_time(self.expires_at),
                'ca_cert': self.ca_cert}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LeaseDocument:
        """Read the document; :class:`LeaseError` says what is wrong or missing."""
        if not isinstance(data, Mapping):
            raise LeaseError('a lease document is a JSON object')
        missing = [k for k in ('vgpu_uuid', 'protocol', 'endpoints', 'token', 'expires_at',
                               'ca_cert') if k not in data]
        if missing:
            raise LeaseError('the lease document lacks ' + ', '.join(missing))
        raw = data['endpoints']
        if not isinstance(raw, list) or not all(isinstance(e, Mapping) for e in raw):
            raise LeaseError('endpoints must be a list of objects')
        try:
            endpoints = tuple(LeaseEndpoint(gateway=e.get('gateway'), lease_id=e.get('lease_id'),
                                            cards=e.get('cards', 1),
                                            server_name=e.get('server_name') or '')
                              for e in raw)
        except TypeError as exc:
            raise LeaseError(f'bad endpoint: {exc}') from exc
        return cls(vgpu_uuid=data['vgpu_uuid'], protocol=data['protocol'], endpoints=endpoints,
                   token=data['token'], expires_at=_parse_time(data['expires_at']),
                   ca_cert=data['ca_cert'], version=data.get('version', VERSION))

    @classmethod
    def from_json(cls, text: str | bytes) -> LeaseDocument:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise LeaseError(f'the lease document is not JSON: {exc}') from exc
        return cls.from_dict(data)
