"""The remoting contract: how a ``pooling.remoting`` plugin serves a remote slice.

A vGPU whose consumer runs on another host is used over the network.  On the device host the agent
asks one remoting plugin to *start* the server side of the vGPU's cards on that host (one
*lease*), gets back a :class:`BackendEndpoint` that is reachable only from this host (a loopback
port or a unix socket), and hands the endpoint to the host's TLS gateway, which admits a consumer's
connection only with the lease's credential and splices it byte for byte to the endpoint.  On
release the agent *stops* the lease.  The plugin never sees credentials or the network: keeping the
backend unreachable from anywhere but the gateway is its one security duty.

Why one lease per start: one server process per lease is the only way LUPINE (and our simulator)
can apply one slice's limits -- ``CUDA_VISIBLE_DEVICES``, MPS or HAMi-core environment -- to every
context a consumer opens, and a crash then hurts one tenant only.

Plugins are leaves: they import this module and their own helpers, never ``pooling``.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
import dataclasses
import re
import socket
from typing import Any
from typing import ClassVar

#: Entry-point namespace of the plugins.
NAMESPACE = 'pooling.remoting'

_LEASE_ID = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$')


class RemotingError(Exception):
    """Base of every error a remoting plugin raises on purpose."""


class BackendUnavailable(RemotingError):
    """The backend cannot run here: its program is missing, another version, or will not start."""


class LeaseNotFound(RemotingError):
    """No backend is running (or was started) for this lease id."""


class UnknownRemotingDriver(RemotingError):
    """A configured name has no ``pooling.remoting`` entry point."""


@dataclasses.dataclass(frozen=True)
class RemoteSliceRequest:
    """What the agent asks a plugin to serve: the cards of one vGPU on this host.

    :ivar lease_id: the agent's id of this lease, ``[A-Za-z0-9._-]``, at most 128 characters
        (it becomes part of file names); the same id is used with the gateway.
    :ivar vgpu_uuid: the vGPU served (for logs and process titles).
    :ivar visible_uuids: per card, in card order, the uuid to make visible to the backend: the
        device's uuid or its partition's (``MIG-...``).  Card order is the consumer's ordinal
        order.
    :ivar memory_mib: memory limit per card, MiB.
    :ivar compute_pct: compute share per card, 1..100.
    :ivar isolation_env: the environment the slice's isolation plugin made (MPS pipe and limits,
        HAMi-core ``LD_PRELOAD`` and limits ...); the backend process runs with it.
    """

    lease_id: str
    vgpu_uuid: str
    visible_uuids: tuple[str, ...]
    memory_mib: int
    compute_pct: int = 100
    isolation_env: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.lease_id, str) or not _LEASE_ID.match(self.lease_id):
            raise ValueError(f'lease_id {self.lease_id!r} must match {_LEASE_ID.pattern}')
        if isinstance(self.visible_uuids, str):
            raise ValueError('visible_uuids must be a sequence of uuids, not one string')
        object.__setattr__(self, 'visible_uuids', tuple(str(u) for u in self.visible_uuids))
        if not self.visible_uuids or not all(self.visible_uuids):
            raise ValueError(f'lease {self.lease_id}: at least one non-empty visible uuid needed')
        if any(',' in u for u in self.visible_uuids):
            raise ValueError(f'lease {self.lease_id}: a uuid may not contain a comma')
        if int(self.memory_mib) <= 0:
            raise ValueError(f'lease {self.lease_id}: memory_mib must be > 0, '
                             f'got {self.memory_mib!r}')
        if not 1 <= int(self.compute_pct) <= 100:
            raise ValueError(f'lease {self.lease_id}: compute_pct must be 1..100, '
                             f'got {self.compute_pct!r}')
        object.__setattr__(self, 'isolation_env',
                           {str(k): str(v) for k, v in dict(self.isolation_env).items()})

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form (for RPC)."""
        return {'lease_id': self.lease_id, 'vgpu_uuid': self.vgpu_uuid,
                'visible_uuids': list(self.visible_uuids), 'memory_mib': self.memory_mib,
                'compute_pct': self.compute_pct, 'isolation_env': dict(self.isolation_env)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RemoteSliceRequest:
        """Build a request from :meth:`to_dict`'s form; :class:`ValueError` names what is wrong."""
        try:
            return cls(lease_id=data['lease_id'], vgpu_uuid=str(data['vgpu_uuid']),
                       visible_uuids=tuple(data['visible_uuids']),
                       memory_mib=int(data['memory_mib']),
                       compute_pct=int(data.get('compute_pct', 100)),
                       isolation_env=dict(data.get('isolation_env') or {}))
        except (KeyError, TypeError) as exc:
            raise ValueError(f'bad remote slice request: {exc!r}') from exc


@dataclasses.dataclass(frozen=True)
class BackendEndpoint:
    """Where the gateway reaches one lease's backend on this host.

    ``transport`` is ``tcp`` (``host`` must be a loopback address) or ``unix`` (``path``).
    """

    transport: str
    host: str = ''
    port: int = 0
    path: str = ''

    def __post_init__(self) -> None:
        if self.transport == 'tcp':
            if not (self.host.startswith('127.') or self.host in ('::1', 'localhost')):
                raise ValueError(f'a backend must listen on loopback, not {self.host!r}')
            if not 0 < int(self.port) < 65536:
                raise ValueError(f'bad backend port {self.port!r}')
        elif self.transport == 'unix':
            if not self.path.startswith('/'):
                raise ValueError(f'a unix backend needs an absolute path, not {self.path!r}')
        else:
            raise ValueError(f'transport must be tcp or unix, not {self.transport!r}')

    @property
    def address(self) -> str:
        """``host:port`` or ``unix:/path`` (what :meth:`parse` reads)."""
        if self.transport == 'unix':
            return 'unix:' + self.path
        return f'[{self.host}]:{self.port}' if ':' in self.host else f'{self.host}:{self.port}'

    @classmethod
    def parse(cls, address: str) -> BackendEndpoint:
        """Read ``host:port``, ``[v6]:port`` or ``unix:/path``."""
        if address.startswith('unix:'):
            return cls('unix', path=address[5:])
        host, sep, port = address.rpartition(':')
        if not sep or not port.isdigit():
            raise ValueError(f'bad endpoint {address!r}: expected host:port or unix:/path')
        return cls('tcp', host=host.strip('[]'), port=int(port))

    def connect(self, timeout: float = 5.0) -> socket.socket:
        """Open a blocking stream socket to the backend (``TCP_NODELAY`` on TCP).

        :raises OSError: the backend does not answer.
        """
        if self.transport == 'unix':
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.settimeout(timeout)
                sock.connect(self.path)
            except OSError:
                sock.close()
                raise
        else:
            sock = socket.create_connection((self.host, self.port), timeout=timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(None)
        return sock

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BackendEndpoint:
        return cls(transport=data['transport'], host=data.get('host', ''),
                   port=int(data.get('port', 0)), path=data.get('path', ''))


@dataclasses.dataclass(frozen=True)
class LeaseCounters:
    """Traffic of one lease as seen where it is counted.

    ``bytes_in`` flows consumer -> backend, ``bytes_out`` backend -> consumer; ``connections`` are
    open now, ``connections_total`` since start; ``last_use`` is the epoch time of the last byte
    or connection (``None`` before any).
    """

    lease_id: str
    bytes_in: int = 0
    bytes_out: int = 0
    connections: int = 0
    connections_total: int = 0
    last_use: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


#: Backend states reported by :meth:`RemotingDriver.health`.
RUNNING = 'running'
RESTARTING = 'restarting'
DEGRADED = 'degraded'
STOPPED = 'stopped'


@dataclasses.dataclass(frozen=True)
class BackendHealth:
    """How one lease's backend is doing.

    ``degraded`` means it failed more often than the plugin may restart it; the plugin has also
    called the ``on_degraded`` callback it was given.
    """

    lease_id: str
    state: str
    pid: int | None = None
    restarts: int = 0
    detail: str = ''

    @property
    def healthy(self) -> bool:
        return self.state == RUNNING

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class ProbeResult:
    """What ``pooling-manage drivers probe`` and the upgrade check show for a plugin."""

    name: str
    available: bool
    version: str | None = None
    expected_version: str | None = None
    detail: str = ''

    @property
    def ok(self) -> bool:
        """Available and, when a version is pinned, of that version."""
        return self.available and (not self.expected_version
                                    or self.version == self.expected_version)


#: ``on_degraded(lease_id, reason)``: called (from a plugin thread) when a backend is given up.
DegradedCallback = Callable[[str, str], None]


class RemotingDriver(abc.ABC):
    """Runs the server side of remote slices on a device host.

    :param options: the plugin's settings (see each plugin's docstring).
    :param on_degraded: called once per lease when its backend keeps failing and the plugin
        stops restarting it; the agent marks the vGPU degraded and tells the conductor.

    Methods are thread-safe.  ``start`` with a lease id already running and the same request
    returns the running endpoint (the agent may retry a prepare); ``stop`` is idempotent.
    """

    #: Entry-point name, e.g. ``lupine``.
    name: ClassVar[str]
    #: The ``protocol`` the lease document names; chooses the consumer's client environment.
    protocol: ClassVar[str]

    def __init__(self, options: Mapping[str, Any] | None = None,
                 on_degraded: DegradedCallback | None = None) -> None:
        self.options: dict[str, Any] = dict(options or {})
        self.on_degraded = on_degraded

    @abc.abstractmethod
    def start(self, request: RemoteSliceRequest) -> BackendEndpoint:
        """Start serving the lease and return its backend endpoint once it accepts connections.

        :raises BackendUnavailable: the backend program is missing or will not start.
        :raises RemotingError: the lease id runs already with another request.
        """

    @abc.abstractmethod
    def stop(self, lease_id: str) -> None:
        """Stop the lease's backend (its open connections die with it); no error if none."""

    @abc.abstractmethod
    def health(self, lease_id: str) -> BackendHealth:
        """Say how the lease's backend is doing. :raises LeaseNotFound: unknown lease."""

    @abc.abstractmethod
    def counters(self, lease_id: str) -> LeaseCounters:
        """Traffic of the lease so far. :raises LeaseNotFound: unknown lease."""

    def leases(self) -> tuple[str, ...]:
        """Ids of the leases this plugin runs now."""
        raise NotImplementedError(f'{type(self).__name__} does not list its leases')

    def reap_orphans(self) -> list[str]:
        """Kill backends a previous run of the agent left behind; return their lease ids.

        The agent calls it once at start, after starting again the leases it still serves.
        """
        return []

    def stop_all(self) -> None:
        """Stop every lease (agent shutdown)."""
        for lease_id in self.leases():
            self.stop(lease_id)

    def probe(self) -> ProbeResult:
        """Say whether the backend can run on this host (program present, expected version)."""
        return ProbeResult(name=self.name, available=True)

    @classmethod
    @abc.abstractmethod
    def client_env(cls, local_addresses: Sequence[str],
                   options: Mapping[str, Any] | None = None) -> dict[str, str]:
        """The environment a consumer's program needs, given its local proxy addresses.

        :param local_addresses: ``host:port`` per card, in card order (the consumer's proxies).
        :param options: consumer-side settings (e.g. the client library folder).
        """


def load(name: str, options: Mapping[str, Any] | None = None,
         on_degraded: DegradedCallback | None = None) -> RemotingDriver:
    """Load and build the ``pooling.remoting`` plugin called ``name``.

    :raises UnknownRemotingDriver: no such entry point, or it failed to import.
    """
    from stevedore import driver as stevedore_driver

    try:
        manager = stevedore_driver.DriverManager(
            NAMESPACE, name, invoke_on_load=True,
            invoke_kwds={'options': options, 'on_degraded': on_degraded})
    except Exception as exc:  # stevedore raises NoMatches or the plugin's import error
        raise UnknownRemotingDriver(f'no usable {NAMESPACE} plugin {name!r}: {exc}') from exc
    return manager.driver


def driver_class(name: str) -> type[RemotingDriver]:
    """The plugin class called ``name`` without building it (for :meth:`client_env`)."""
    from stevedore import driver as stevedore_driver

    try:
        return stevedore_driver.DriverManager(NAMESPACE, name, invoke_on_load=False).driver
    except Exception as exc:
        raise UnknownRemotingDriver(f'no usable {NAMESPACE} plugin {name!r}: {exc}') from exc
