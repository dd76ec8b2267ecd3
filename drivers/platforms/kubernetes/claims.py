"""Allocated ResourceClaims into pool vGPUs, and back: the work behind NodePrepareResources.

For each claim the kubelet hands over, the plugin reads the claim's allocation from the
Kubernetes API (the devices of our driver the scheduler picked, and from their ResourceSlice the
profile, card model and locality), then makes one pool vGPU per allocated device with the pool's
REST API -- consumer ``{platform: kubernetes, host: <node>, id: <claim uid>}``, in the OpenStack
project mapped from the claim's namespace -- waits until it is ACTIVE, writes its CDI spec on the
node and answers the CDI device id.  Unprepare deletes those vGPUs and their specs.

Why nothing is remembered locally: the pool's books are the record.  A vGPU is found again by
its consumer (the claim uid) and its name (``<pool>/<device>``), so preparing twice, or after a
plugin or kubelet restart, finds and reuses what exists, and unpreparing what is gone succeeds.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
import dataclasses
import logging
import time
from typing import Any

from pooling_drivers.platforms import base
from pooling_drivers.platforms import cdi
from pooling_drivers.platforms.kubernetes import model

LOG = logging.getLogger(__name__)
PLATFORM = 'kubernetes'


class ClaimError(Exception):
    """This claim cannot be prepared or unprepared now; the message says why."""


@dataclasses.dataclass(frozen=True)
class ClaimRef:
    namespace: str
    uid: str
    name: str


@dataclasses.dataclass(frozen=True)
class AllocatedDevice:
    """One device of our driver in a claim's allocation, with its slice attributes."""

    request: str
    pool: str
    device: str
    profile: str
    model: str
    locality: str
    #: The pool device (card uuid) the device was published for.
    card: str = ''

    @property
    def vgpu_name(self) -> str:
        return f'{self.pool}/{self.device}'


@dataclasses.dataclass(frozen=True)
class PreparedDevice:
    request_names: tuple[str, ...]
    pool_name: str
    device_name: str
    cdi_device_ids: tuple[str, ...]


class KubeClaims:
    """Reads claims and our ResourceSlices through the ``kubernetes`` client.

    :param api_client: a ``kubernetes.client.ApiClient``.
    """

    def __init__(self, api_client) -> None:
        from kubernetes import client as k8s

        self.api = k8s.ResourceV1Api(api_client)

    def allocated(self, ref: ClaimRef) -> list[AllocatedDevice]:
        """The claim's devices from our driver.

        :raises ClaimError: the claim is gone, replaced (uid differs) or not allocated.
        """
        from kubernetes.client import exceptions as k8s_exc

        try:
            claim = self.api.read_namespaced_resource_claim(ref.name, ref.namespace)
        except k8s_exc.ApiException as exc:
            raise ClaimError(f'cannot read ResourceClaim {ref.namespace}/{ref.name}: '
                             f'{exc.status} {exc.reason}') from exc
        if claim.metadata.uid != ref.uid:
            raise ClaimError(f'ResourceClaim {ref.namespace}/{ref.name} has uid '
                             f'{claim.metadata.uid}, not {ref.uid}')
        allocation = claim.status.allocation if claim.status else None
        if allocation is None or allocation.devices is None:
            raise ClaimError(f'ResourceClaim {ref.namespace}/{ref.name} is not allocated')
        results = [r for r in allocation.devices.results or () if r.driver == model.DRIVER]
        attrs = self._attributes({r.pool for r in results})
        out = []
        for r in results:
            a = attrs.get((r.pool, r.device))
            if a is None:
                raise ClaimError(f'device {r.pool}/{r.device} of claim {ref.uid} is in no '
                                 'ResourceSlice of ours any more')
            out.append(AllocatedDevice(request=r.request, pool=r.pool, device=r.device,
                                       profile=a['profile'], model=a['model'],
                                       locality=a['locality'], card=a.get('card', '')))
        return out

    def _attributes(self, pools: set) -> dict[tuple[str, str], dict[str, str]]:
        found = {}
        slices = self.api.list_resource_slice(field_selector=f'spec.driver={model.DRIVER}')
        for s in slices.items:
            if s.spec.pool.name not in pools:
                continue
            for d in s.spec.devices or ():
                found[(s.spec.pool.name, d.name)] = {
                    k: v.string for k, v in (d.attributes or {}).items()
                    if v is not None and v.string is not None}
        return found


class ClaimPreparer:
    """Prepares and unprepares claims on one node against the pool.

    :param node: this node's name (the pool host name of the consumer).
    :param claims: reads allocations (:class:`KubeClaims` or a stand-in).
    :param pool_for: project id → a ``poolingclient`` v1 ``Client`` acting in that project.
    :param cdi_driver: writes the CDI specs (``CdiPlatform`` serving ``kubernetes``).
    :param projects: namespace → OpenStack project id; ``*`` is the default.  A namespace with
        no mapping and no default is refused (claims must not land in an arbitrary project).
    :param timeout: seconds to wait for a vGPU to become ACTIVE.
    """

    def __init__(self, node: str, claims, pool_for: Callable[[str], Any],
                 cdi_driver: cdi.CdiPlatform, projects: Mapping[str, str],
                 timeout: float = 120.0, poll: float = 0.25) -> None:
        self.node = node
        self.claims = claims
        self.pool_for = pool_for
        self.cdi = cdi_driver
        self.projects = dict(projects)
        self.timeout = timeout
        self.poll = poll

    def project(self, namespace: str) -> str:
        project = self.projects.get(namespace) or self.projects.get('*')
        if not project:
            raise ClaimError(f'namespace {namespace!r} is mapped to no OpenStack project '
                             '(pooling-k8s --namespace-project)')
        return project

    def _existing(self, pool, ref: ClaimRef) -> dict[str, dict]:
        vgpus = pool.list_vgpus(consumer_platform=PLATFORM, consumer_id=ref.uid)
        return {v['name']: v for v in vgpus if v.get('state') not in ('DELETED', 'ERROR')}

    def prepare(self, ref: ClaimRef) -> list[PreparedDevice]:
        """Make (or find) the claim's vGPUs, wait for ACTIVE, write their CDI specs.

        :raises ClaimError: with the reason; vGPUs made so far stay (a retry reuses them).
        """
        pool = self.pool_for(self.project(ref.namespace))
        allocated = self.claims.allocated(ref)
        existing = self._existing(pool, ref)
        prepared = []
        for dev in allocated:
            vgpu = existing.get(dev.vgpu_name)
            if vgpu is None:
                vgpu = self._create(pool, ref, dev)
            vgpu = self._wait_active(pool, vgpu)
            cards = {s.get('device_uuid') for s in vgpu.get('slices') or ()}
            if dev.card and dev.card not in cards:
                # NOTE: the books are exact; Kubernetes' per-card view is off until the claim
                # ends (the API has no device hint yet): say so where operators look.
                LOG.warning('claim %s/%s: Kubernetes booked %s on card %s, the pool placed vGPU '
                            '%s on %s', ref.namespace, ref.name, dev.device, dev.card,
                            vgpu['uuid'], ', '.join(sorted(c for c in cards if c)))
            try:
                att = self.cdi.attach(base.PlatformRequest.from_vgpu(vgpu))
            except base.PlatformError as exc:
                raise ClaimError(f'CDI spec for vGPU {vgpu["uuid"]}: {exc}') from exc
            prepared.append(PreparedDevice((dev.request,), dev.pool, dev.device, (att.handle,)))
        return prepared

    def _create(self, pool, ref: ClaimRef, dev: AllocatedDevice) -> dict:
        body = {'name': dev.vgpu_name, 'profile': dev.profile, 'models': [dev.model],
                'locality': 'local' if dev.locality == 'local' else 'remote-allowed',
                'consumer': {'platform': PLATFORM, 'host': self.node, 'id': ref.uid}}
        try:
            vgpu = pool.create_vgpu(**body)
        except Exception as exc:
            raise ClaimError(f'the pool refused a {dev.profile} vGPU for claim '
                             f'{ref.namespace}/{ref.name}: {exc}') from exc
        LOG.info('claim %s/%s: vGPU %s for %s', ref.namespace, ref.name, vgpu['uuid'],
                 dev.vgpu_name)
        return vgpu

    def _wait_active(self, pool, vgpu: dict) -> dict:
        deadline = time.monotonic() + self.timeout
        while True:
            if vgpu['state'] == 'ACTIVE':
                return vgpu
            if vgpu['state'] in ('ERROR', 'DELETED', 'RELEASING'):
                raise ClaimError(f'vGPU {vgpu["uuid"]} is {vgpu["state"]}: '
                                 f'{vgpu.get("state_reason") or "no reason given"}')
            if time.monotonic() > deadline:
                raise ClaimError(f'vGPU {vgpu["uuid"]} not ACTIVE after {self.timeout:.0f} s '
                                 f'(still {vgpu["state"]})')
            time.sleep(self.poll)
            vgpu = pool.get_vgpu(vgpu['uuid'])

    def unprepare(self, ref: ClaimRef) -> None:
        """Delete the claim's vGPUs and their CDI specs; what is already gone is fine."""
        pool = self.pool_for(self.project(ref.namespace))
        for vgpu in self._existing(pool, ref).values():
            try:
                self.cdi.detach(base.PlatformRequest.from_vgpu(vgpu))
            except base.PlatformError as exc:
                raise ClaimError(f'removing the CDI spec of vGPU {vgpu["uuid"]}: {exc}') from exc
            try:
                pool.delete_vgpu(vgpu['uuid'])
            except Exception as exc:
                if getattr(exc, 'status', None) != 404:
                    raise ClaimError(f'the pool did not release vGPU {vgpu["uuid"]}: '
                                     f'{exc}') from exc
            LOG.info('claim %s/%s: released vGPU %s', ref.namespace, ref.name, vgpu['uuid'])


def answer_each(refs: Sequence[ClaimRef], act: Callable[[ClaimRef], Any]) -> dict[str, Any]:
    """Run ``act`` per claim; one claim's failure is its own ``error``, never the call's."""
    out: dict[str, Any] = {}
    for ref in refs:
        try:
            out[ref.uid] = act(ref)
        except ClaimError as exc:
            LOG.warning('claim %s/%s (%s): %s', ref.namespace, ref.name, ref.uid, exc)
            out[ref.uid] = exc
        except Exception as exc:  # a bug or an outage must not fail the other claims
            LOG.exception('claim %s/%s (%s) failed', ref.namespace, ref.name, ref.uid)
            out[ref.uid] = ClaimError(f'{type(exc).__name__}: {exc}')
    return out
