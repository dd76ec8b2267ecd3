"""The platform contract: how a ``pooling.platforms`` plugin hands an ACTIVE vGPU to one platform.

When a vGPU becomes ACTIVE its slices are prepared on their device hosts (isolation, partition,
remoting server) and the conductor knows everything a consumer needs: each slice's attachment
(device nodes, environment, mounts, the uuid to make visible) and, for a vGPU used from another
host, the remote lease (endpoints and a per-vGPU token).  A platform driver turns that into what
*its* platform consumes -- a CDI spec for Docker/Podman/containerd/CRI-O, CDI device ids for a
Kubernetes claim, a ``VirtualPCIPassthrough`` on a vSphere VM, a ``<hostdev>`` in a libvirt
domain, an environment for a bare-metal job -- and undoes it when the vGPU is released.

Why one contract for such different platforms: the pool's books (who holds which capacity) are
the same whoever consumes it, so the service only ever needs four verbs from a platform:

* :meth:`PlatformDriver.attach` -- make the vGPU usable by its consumer; idempotent (attaching
  twice gives the same :class:`PlatformAttachment` and changes nothing the second time);
* :meth:`PlatformDriver.detach` -- undo exactly what ``attach`` did; idempotent (detaching what
  is already gone succeeds);
* :meth:`PlatformDriver.reconcile` -- compare what the platform holds with the ACTIVE vGPUs the
  pool says it should hold, repair what can be repaired and report the rest (:class:`Drift`);
* :meth:`PlatformDriver.discover` -- optional: read the platform's own accelerators into the pool
  (vSphere hosts' GPUs); platforms without that raise :class:`PlatformNotSupportedError`;
* :meth:`PlatformDriver.locate` -- optional: the pool host a consumer's workload runs on *now*,
  when that is not the consumer's own ``host`` (a vSphere VM runs on an ESXi host, while its
  consumer names the vCenter); the scheduler places the vGPU against that host.

Drivers are leaves: they import this module and their platform's library, never ``pooling``;
everything crosses the boundary as the frozen dataclasses below (built from the vGPU dicts the
conductor and API already use by :meth:`PlatformRequest.from_vgpu`).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from collections.abc import Sequence
import dataclasses
from typing import Any
from typing import ClassVar

from pooling_drivers.accelerators import errors as driver_errors
from pooling_drivers.accelerators.types import DeviceInfo
from pooling_drivers.accelerators.types import PartitionProfile


class PlatformError(driver_errors.DriverError):
    """Base of the errors platform drivers raise on purpose."""


class PlatformNotSupportedError(PlatformError, driver_errors.NotSupportedError):
    """The driver does not do this (an optional verb, or a request its platform cannot take)."""


class ConsumerNotFoundError(PlatformError):
    """The consumer named by the vGPU (VM, domain, node ...) does not exist on the platform."""


class ConsumerStateError(PlatformError):
    """The consumer exists but cannot take the change now (e.g. a powered-on VM)."""


class InvalidRequestError(PlatformError):
    """The request does not fit the platform (a profile the host lacks, a bad consumer id ...)."""


class PlatformUnavailableError(PlatformError):
    """The platform cannot be reached or refused our credentials; retrying later may help."""


@dataclasses.dataclass(frozen=True)
class Consumer:
    """Who uses a vGPU: ``{platform, host, id}`` as the API stores it.

    ``host`` is the machine (or vCenter, or Kubernetes node) the consumer runs on; ``id`` the
    platform's own name for it (container name, claim uid, VM moref, domain uuid ...).
    """

    platform: str
    host: str = ''
    id: str = ''

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Consumer:
        """Build a consumer from the API's dict; ``None`` or missing keys give empty strings."""
        data = data or {}
        return cls(platform=str(data.get('platform') or ''), host=str(data.get('host') or ''),
                   id=str(data.get('id') or ''))


@dataclasses.dataclass(frozen=True)
class Mount:
    """A host path the consumer must see at ``container`` (a pipe folder, a library, a lease)."""

    host: str
    container: str
    readonly: bool = True


def _milli(data: Mapping[str, Any]) -> int:
    """Thousandths of a card from the conductor's ``compute_milli`` or the API's percent."""
    if data.get('compute_milli') is not None:
        return int(data['compute_milli'])
    return int(round(float(data.get('compute_percent') or 0) * 10))


@dataclasses.dataclass(frozen=True)
class SliceHandle:
    """One prepared slice: where it lives and what its isolation plugin said a consumer needs.

    ``env``, ``device_nodes`` and ``mounts`` are the isolation plugin's attachment (they are only
    meaningful on ``host``, the device host); ``visible_uuid`` is the device's or partition's uuid
    to make visible (``MIG-...`` for a MIG instance).
    """

    index: int
    device_uuid: str
    host: str
    compute_milli: int
    memory_mb: int
    isolation: str = 'none'
    visible_uuid: str = ''
    env: Mapping[str, str] = dataclasses.field(default_factory=dict)
    device_nodes: tuple[str, ...] = ()
    mounts: tuple[Mount, ...] = ()
    #: The hardware partition backing the slice (``{"profile", "uuid", ...}``), if any.
    partition: Mapping[str, Any] | None = None
    #: The card's PCI address when the vGPU dict carries it (libvirt, vSphere DirectPath).
    pci_address: str = ''

    @classmethod
    def from_dicts(cls, slice_: Mapping[str, Any],
                   attachment: Mapping[str, Any] | None) -> SliceHandle:
        """Join the vGPU's slice row with the agent's attachment for it.

        :param slice_: ``{"index", "device_uuid", "host", "compute_milli", "memory_mb"}``.
        :param attachment: the isolation plugin's ``SliceAttachment.to_dict()`` or ``None``.
        :raises InvalidRequestError: a field is missing or has the wrong type.
        """
        att = attachment or {}
        try:
            mounts = tuple(Mount(host=str(m['host']), container=str(m['container']),
                                 readonly=bool(m.get('readonly', True)))
                           for m in att.get('mounts') or ())
            return cls(index=int(slice_.get('index', 0)), device_uuid=str(slice_['device_uuid']),
                       host=str(slice_.get('host') or ''),
                       compute_milli=_milli(slice_),
                       memory_mb=int(slice_.get('memory_mb') or 0),
                       isolation=str(att.get('isolation') or 'none'),
                       visible_uuid=str(att.get('visible_uuid') or ''),
                       env={str(k): str(v) for k, v in (att.get('env') or {}).items()},
                       device_nodes=tuple(str(d) for d in att.get('devices') or ()),
                       mounts=mounts, partition=att.get('partition'),
                       pci_address=str(slice_.get('pci_address') or ''))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidRequestError(f'bad slice {dict(slice_)!r}: {exc!r}') from exc


@dataclasses.dataclass(frozen=True)
class RemoteLease:
    """How a consumer on another host reaches the vGPU's slices over the network.

    ``document`` is the lease as the remote data plane hands it to ``pooling run`` (its format
    belongs to the remote data plane); ``token`` is secret and never appears in ``repr``.
    """

    protocol: str
    endpoints: tuple[str, ...]
    token: str = dataclasses.field(default='', repr=False)
    expires_at: str | None = None
    document: Mapping[str, Any] = dataclasses.field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RemoteLease:
        """Build a lease from the attachment's ``remote`` dict (kept whole as ``document``).

        Endpoints are ``host:port`` strings, or the remote data plane's lease document entries
        ``{"gateway": "host:port", "lease_id", ...}`` (its format: ``pooling.gateway.lease``).
        """
        try:
            return cls(protocol=str(data.get('protocol') or ''),
                       endpoints=tuple(str(e['gateway']) if isinstance(e, Mapping) else str(e)
                                       for e in data.get('endpoints') or ()),
                       token=str(data.get('token') or ''),
                       expires_at=data.get('expires_at'), document=dict(data))
        except (TypeError, ValueError, AttributeError) as exc:
            raise InvalidRequestError(f'bad remote lease: {exc!r}') from exc


@dataclasses.dataclass(frozen=True)
class PlatformRequest:
    """An ACTIVE vGPU as one platform driver sees it.

    ``remote`` is set when the consumer is not on the slices' host: then no slice's device nodes
    exist where the consumer runs, and the driver hands over the lease instead.
    """

    vgpu_uuid: str
    project_id: str
    consumer: Consumer
    slices: tuple[SliceHandle, ...]
    remote: RemoteLease | None = None
    isolation: str = 'none'
    locality: str = 'local'
    profile: str | None = None
    compute_milli: int = 0
    memory_mb: int = 0
    count: int = 1

    @property
    def is_remote(self) -> bool:
        """True when the consumer uses the slices over the network."""
        return self.remote is not None

    @classmethod
    def from_vgpu(cls, vgpu: Mapping[str, Any]) -> PlatformRequest:
        """Build a request from the vGPU dict of the conductor or the API.

        :param vgpu: ``{"uuid", "project_id", "consumer", "slices", "attachment": {"slices",
            "remote"}, "isolation", "locality", "profile", ...}``; ``attachment.slices`` is in
            slice index order, as the conductor stores it.
        :raises InvalidRequestError: the dict lacks what a platform needs.
        """
        try:
            uuid = str(vgpu['uuid'])
            attachment = vgpu.get('attachment') or {}
            atts = list(attachment.get('slices') or ())
            rows = sorted(vgpu.get('slices') or (), key=lambda s: int(s.get('index', 0)))
        except (KeyError, TypeError, AttributeError) as exc:
            raise InvalidRequestError(f'bad vGPU for a platform: {exc!r}') from exc
        slices = tuple(SliceHandle.from_dicts(row, atts[i] if i < len(atts) else None)
                       for i, row in enumerate(rows))
        remote = attachment.get('remote')
        return cls(vgpu_uuid=uuid, project_id=str(vgpu.get('project_id') or ''),
                   consumer=Consumer.from_dict(vgpu.get('consumer')), slices=slices,
                   remote=RemoteLease.from_dict(remote) if remote else None,
                   isolation=str(vgpu.get('isolation') or 'none'),
                   locality=str(vgpu.get('locality') or 'local'),
                   profile=vgpu.get('profile'),
                   compute_milli=_milli(vgpu),
                   memory_mb=int(vgpu.get('memory_mb') or 0), count=int(vgpu.get('count') or 1))


@dataclasses.dataclass(frozen=True)
class PlatformAttachment:
    """What a platform driver made for one vGPU, enough to undo it after a restart.

    ``handle`` is the name the consumer uses (the CDI device ``kind=name``, a vSphere device key,
    a libvirt hostdev address, an env file path); ``details`` is the driver's own JSON-able record
    of what it changed (files written, devices added) so that :meth:`PlatformDriver.detach` removes
    exactly that.
    """

    platform: str
    vgpu_uuid: str
    handle: str
    details: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the attachment as JSON-able dict."""
        return {'platform': self.platform, 'vgpu_uuid': self.vgpu_uuid, 'handle': self.handle,
                'details': dict(self.details)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PlatformAttachment:
        """Inverse of :meth:`to_dict`."""
        return cls(platform=str(data['platform']), vgpu_uuid=str(data['vgpu_uuid']),
                   handle=str(data.get('handle') or ''), details=dict(data.get('details') or {}))


@dataclasses.dataclass(frozen=True)
class Drift:
    """One difference :meth:`PlatformDriver.reconcile` found between the platform and the pool.

    ``action`` says what the driver did about it: ``repaired`` (re-attached or removed),
    ``reported`` (needs an operator or the conductor, e.g. a VM whose vGPU device was removed by
    hand while it runs).
    """

    vgpu_uuid: str
    problem: str
    action: str = 'reported'
    handle: str = ''


@dataclasses.dataclass(frozen=True)
class DiscoveredHost:
    """A host of the platform and its accelerators, to be entered into a pool."""

    name: str
    devices: tuple[DeviceInfo, ...] = ()
    #: Per device uuid, the partition shapes (vGPU profiles) the platform offers on it, as the
    #: conductor's report takes them (``partition_profiles``).
    profiles: Mapping[str, tuple[PartitionProfile, ...]] = dataclasses.field(default_factory=dict)
    #: The fabric label of the host, when the platform knows one.
    fabric: str | None = None
    #: The host's CPU (logical CPUs x 1000) and RAM, when the platform tells them cheaply;
    #: 0 = not tracked (the pool then counts no workload CPU or RAM against the host).
    cpu_milli: int = 0
    ram_mb: int = 0


class PlatformDriver(abc.ABC):
    """Hands ACTIVE vGPUs to one platform and takes them back.

    :param options: the driver's own settings (plain values; drivers never read oslo.config).
    """

    #: The entry-point name, e.g. ``cdi``.
    name: ClassVar[str]
    #: The consumer ``platform`` values this driver serves (``container``, ``kubernetes`` ...).
    platforms: ClassVar[tuple[str, ...]] = ()

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        self.options: dict[str, Any] = dict(options or {})

    def handles(self, request: PlatformRequest) -> bool:
        """Say whether this driver serves the request's consumer platform."""
        return request.consumer.platform in self.platforms

    def validate(self, request: PlatformRequest) -> None:  # noqa: B027 - optional, no-op by default
        """Check a request before anything is changed; the default accepts everything.

        :raises InvalidRequestError: the request does not fit the platform.
        """

    @abc.abstractmethod
    def attach(self, request: PlatformRequest) -> PlatformAttachment:
        """Make the vGPU usable by its consumer.  Idempotent.

        :param request: the ACTIVE vGPU.
        :returns: what was made, with the handle the consumer uses.
        :raises InvalidRequestError: the request does not fit (nothing was changed).
        :raises ConsumerNotFoundError: the consumer does not exist.
        :raises ConsumerStateError: the consumer cannot take it now.
        :raises PlatformUnavailableError: the platform cannot be reached.
        """

    @abc.abstractmethod
    def detach(self, request: PlatformRequest,
               attachment: PlatformAttachment | None = None) -> None:
        """Undo :meth:`attach`.  Detaching what is already gone succeeds.

        :param request: the vGPU being released.
        :param attachment: what :meth:`attach` returned, or ``None`` when it is not known any
            more (the driver then finds what it made from the request alone).
        :raises PlatformUnavailableError: the platform cannot be reached; retry later.
        """

    def reconcile(self, active: Sequence[PlatformRequest]) -> list[Drift]:
        """Bring the platform in step with the vGPUs that should be attached.

        The default re-attaches each request (``attach`` is idempotent) and reports failures; it
        cannot see strays, so drivers that can list what they made override it and also remove
        what no ACTIVE vGPU accounts for.

        :param active: every ACTIVE vGPU this driver should serve here.
        :returns: the drifts found, each with what was done about it.
        """
        drifts = []
        for request in active:
            if not self.handles(request):
                continue
            try:
                self.attach(request)
            except PlatformError as exc:
                drifts.append(Drift(request.vgpu_uuid, f'cannot attach: {exc}'))
        return drifts

    def locate(self, consumer: Consumer) -> str | None:
        """The pool host the consumer's workload runs on now (optional).

        Asked before a vGPU is placed, by the agent of the consumer's host. The answer becomes
        the scheduler's consumer host: a local vGPU goes on that host's cards, a remote one is
        served to it over the network. Platforms whose consumers run on their ``host`` itself
        keep the default.

        :returns: a host name as :meth:`discover` names hosts, or ``None`` for "the consumer's
            own ``host``".
        :raises ConsumerNotFoundError: the consumer does not exist.
        :raises InvalidRequestError: the consumer is malformed for this platform.
        :raises ConsumerStateError: the consumer runs nowhere now (e.g. an orphaned VM).
        :raises PlatformUnavailableError: the platform cannot be reached.
        """
        return None

    def discover(self) -> list[DiscoveredHost]:
        """Read the platform's own hosts and accelerators (optional).

        :raises PlatformNotSupportedError: the platform has no accelerators of its own to report.
        """
        raise PlatformNotSupportedError(
            f'platform driver {self.name!r} does not discover devices: its hosts run a '
            'pooling-agent that reports them')
