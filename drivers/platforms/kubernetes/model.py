"""What Kubernetes may allocate from the pool: DeviceClasses and ResourceSlices (v1).

A pure function of the pool's books (devices, hosts, profiles, vGPUs), so the controller, the
``pooling-k8s manifests`` dry run and the tests build exactly the same objects.

The model (partitionable devices, GA-path since 1.36):

* one ResourceSlice *pool* per device host (named after the host, which is the node name);
* in it, one slice of ``sharedCounters``: a counter set per card with ``memory`` (MiB) and
  ``compute`` (thousandths of the card) -- the card's capacity minus what consumers other than
  Kubernetes hold now (Nova servers, containers, VMs...), so capacity taken elsewhere shrinks what
  Kubernetes may allocate; what Kubernetes claims hold is counted by the Kubernetes scheduler
  itself against these counters;
* and slices of devices with ``perDeviceNodeSelection``: for each pool profile that fits a card,
  as many devices as the card could hold of it, each consuming the profile's shape from the
  card's counter set.  A *local* device sits on its node (``nodeName``); when the profile allows
  remote use, a *remote* twin is offered to every node of the card's fabric (``nodeSelector`` on
  the node label ``<domain>/fabric``).  Twins and siblings draw on the same counters, so the
  scheduler can never hand out more of a card than it has, whichever way it is reached.

A DeviceClass per profile selects the profile's devices with CEL on our attributes (``profile``,
``vendor``, ``model``, ``isolation``, ``locality``).  The pool generation rule is kept by
:func:`with_generations`: a pool's generation grows whenever its content changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
import dataclasses
import hashlib
import json
import re
from typing import Any

API_VERSION = 'resource.k8s.io/v1'
DOMAIN = 'pooling.openstack.org'
DRIVER = DOMAIN
FABRIC_LABEL = f'{DOMAIN}/fabric'
#: Kubernetes' limit on devices in one slice when devices consume counters.
MAX_DEVICES_PER_SLICE = 64
#: Kubernetes' limit on counter sets in one slice.
MAX_COUNTER_SETS_PER_SLICE = 8
#: Consumers whose capacity Kubernetes counts itself (through its claims).
KUBERNETES = 'kubernetes'

_LABEL_RE = re.compile(r'[^a-z0-9-]+')


def dns_label(text: str, limit: int = 63) -> str:
    """Lower-case ``text`` into a DNS label (``[a-z0-9-]``, alphanumeric at both ends)."""
    label = _LABEL_RE.sub('-', text.lower()).strip('-')
    if len(label) > limit:
        digest = hashlib.sha256(text.encode()).hexdigest()[:8]
        label = label[:limit - 9].rstrip('-') + '-' + digest
    return label or 'x'


@dataclasses.dataclass(frozen=True)
class PoolView:
    """The pool's books as the REST API shows them (admin view, every project)."""

    devices: Sequence[Mapping[str, Any]]
    hosts: Sequence[Mapping[str, Any]]
    profiles: Sequence[Mapping[str, Any]]
    vgpus: Sequence[Mapping[str, Any]]

    @classmethod
    def from_client(cls, client) -> PoolView:
        """Read the books through a :class:`poolingclient.v1.client.Client`."""
        # NOTE: only Kubernetes' own vGPUs: what the others hold comes from each card's used.
        vgpus = [v for v in client.list_vgpus(all_projects=True, consumer_platform=KUBERNETES)
                 if v.get('state') in ('SCHEDULED', 'PREPARING', 'ACTIVE', 'RELEASING')]
        return cls(devices=client.list_devices(), hosts=client.list_hosts(),
                   profiles=client.list_profiles(), vgpus=vgpus)


@dataclasses.dataclass(frozen=True)
class Shape:
    """A profile as a counter consumption: thousandths of a card and MiB."""

    name: str
    compute_milli: int
    memory_mb: int
    isolation: str | None
    locality: str
    models: tuple[str, ...]

    @classmethod
    def from_profile(cls, profile: Mapping[str, Any]) -> Shape | None:
        """The shape of a one-card profile; ``None`` for multi-card ones (not offered)."""
        if int(profile.get('count') or 1) != 1:
            return None
        return cls(name=str(profile['name']),
                   compute_milli=int(round(float(profile['compute_percent']) * 10)),
                   memory_mb=int(profile['memory_mb']), isolation=profile.get('isolation'),
                   locality=str(profile.get('locality') or 'remote-allowed'),
                   models=tuple(profile.get('models') or ()))

    def fits(self, device: Mapping[str, Any]) -> bool:
        if self.models and device['model'] not in self.models:
            return False
        if self.isolation and self.isolation not in (device.get('isolation') or ()):
            return False
        return self.compute_milli > 0 and self.memory_mb > 0

    def per_card(self, device: Mapping[str, Any]) -> int:
        compute = int(round(float(device['capacity']['compute_percent']) * 10))
        return min(compute // self.compute_milli,
                   int(device['capacity']['memory_mb']) // self.memory_mb)


def class_name(profile_name: str) -> str:
    """The DeviceClass of a profile: ``<profile>.<domain>`` as a DNS subdomain."""
    return f'{dns_label(profile_name, 63)}.{DOMAIN}'


def extended_resource(profile_name: str) -> str:
    """The extended resource a legacy ``resources.limits`` request names for a profile."""
    return f'{DOMAIN}/{dns_label(profile_name, 63)}'


def counter_set(device_uuid: str) -> str:
    return dns_label(f'card-{device_uuid}')


def device_classes(view: PoolView) -> list[dict[str, Any]]:
    """A DeviceClass per one-card profile, selecting its devices with CEL."""
    out = []
    for profile in sorted(view.profiles, key=lambda p: p['name']):
        shape = Shape.from_profile(profile)
        if shape is None:
            continue
        attrs = f'device.attributes["{DOMAIN}"]'
        terms = [f'device.driver == "{DRIVER}"', f'{attrs}.profile == "{shape.name}"']
        if shape.models:
            terms.append(f'{attrs}.model in {json.dumps(sorted(shape.models))}')
        if shape.isolation:
            terms.append(f'{attrs}.isolation == "{shape.isolation}"')
        if shape.locality == 'local':
            terms.append(f'{attrs}.locality == "local"')
        expression = ' && '.join(terms)
        out.append({
            'apiVersion': API_VERSION, 'kind': 'DeviceClass',
            'metadata': {'name': class_name(shape.name),
                         'labels': {'app.kubernetes.io/managed-by': 'pooling-k8s'}},
            # NOTE: with DRA's extended-resource support (beta, on by default from 1.36) a pod
            # asking resources.limits {<domain>/<profile>: 1} is served from this class.
            'spec': {'selectors': [{'cel': {'expression': expression}}],
                     'extendedResourceName': extended_resource(shape.name)}})
    return out


def held_by(vgpus, keep) -> dict[str, tuple[int, int]]:
    """Per card, what the vGPUs ``keep`` selects hold: ``{device uuid: (milli, MiB)}``."""
    held: dict[str, list[int]] = {}
    for vgpu in vgpus:
        if not keep(vgpu):
            continue
        for s in vgpu.get('slices') or ():
            acc = held.setdefault(s['device_uuid'], [0, 0])
            acc[0] += int(round(float(s['compute_percent']) * 10))
            acc[1] += int(s['memory_mb'])
    return {k: (v[0], v[1]) for k, v in held.items()}


def free_for(card: Mapping[str, Any], own: tuple[int, int]) -> tuple[int, int]:
    """What a card offers a platform that counts its own holds (``own``) itself.

    The card's ``used`` (every holder, from the pool's books) minus ``own`` is what the others
    hold.  Why ``used`` and not a sum over listed vGPUs: a list is capped by the API, and a
    missed Nova vGPU would be offered twice; a missed own vGPU only offers less.
    """
    compute = int(round(float(card['capacity']['compute_percent']) * 10))
    memory = int(card['capacity']['memory_mb'])
    used_c = int(round(float((card.get('used') or {}).get('compute_percent') or 0) * 10))
    used_m = int((card.get('used') or {}).get('memory_mb') or 0)
    others_c, others_m = max(0, used_c - own[0]), max(0, used_m - own[1])
    return max(0, compute - others_c), max(0, memory - others_m)


def _is_kubernetes(vgpu) -> bool:
    return (vgpu.get('consumer') or {}).get('platform') == KUBERNETES


def _device(name: str, shape: Shape, card: Mapping[str, Any], local: bool,
            fabric: str | None) -> dict[str, Any]:
    attrs = {'profile': {'string': shape.name}, 'vendor': {'string': card['vendor']},
             'model': {'string': card['model']},
             'isolation': {'string': shape.isolation or 'none'},
             'locality': {'string': 'local' if local else 'remote'},
             'host': {'string': card['host']}, 'card': {'string': card['uuid']}}
    device: dict[str, Any] = {
        'name': name,
        'attributes': attrs,
        'capacity': {'memory': {'value': f'{shape.memory_mb}Mi'},
                     'compute': {'value': str(shape.compute_milli)}},
        'consumesCounters': [{'counterSet': counter_set(card['uuid']),
                              'counters': {'memory': {'value': f'{shape.memory_mb}Mi'},
                                           'compute': {'value': str(shape.compute_milli)}}}]}
    if local:
        device['nodeName'] = card['host']
    else:
        device['nodeSelector'] = {'nodeSelectorTerms': [{'matchExpressions': [
            {'key': FABRIC_LABEL, 'operator': 'In', 'values': [fabric]}]}]}
    return device


def resource_slices(view: PoolView) -> dict[str, list[dict[str, Any]]]:
    """The ResourceSlices of every pool (device host), without generations.

    :returns: ``{pool name: [slice, ...]}``, each list complete for its pool.
    """
    shapes = [s for s in (Shape.from_profile(p) for p in
                          sorted(view.profiles, key=lambda p: p['name'])) if s]
    fabrics = {h['name']: h.get('fabric') for h in view.hosts}
    down = {h['name'] for h in view.hosts if h.get('state') == 'down'}
    own = held_by(view.vgpus, _is_kubernetes)
    by_host: dict[str, list[Mapping[str, Any]]] = {}
    for card in sorted(view.devices, key=lambda d: (d['host'], d['uuid'])):
        by_host.setdefault(card['host'], []).append(card)
    out = {}
    for host, cards in sorted(by_host.items()):
        counter_sets, devices = [], []
        for card in cards:
            usable = card.get('health') == 'healthy' and host not in down
            free_c, free_m = free_for(card, own.get(card['uuid'], (0, 0))) if usable else (0, 0)
            counter_sets.append({'name': counter_set(card['uuid']),
                                 'counters': {'memory': {'value': f'{free_m}Mi'},
                                              'compute': {'value': str(free_c)}}})
            fabric = fabrics.get(host)
            for shape in shapes:
                if not shape.fits(card):
                    continue
                n = shape.per_card(card)
                stem = dns_label(f'{shape.name}-{card["uuid"][:8]}', 52)
                for i in range(n):
                    devices.append(_device(f'{stem}-{i}', shape, card, True, fabric))
                    if shape.locality != 'local' and fabric:
                        devices.append(_device(f'r-{stem}-{i}', shape, card, False, fabric))
        out[host] = _slices_of_pool(host, counter_sets, devices)
    return out


def _slices_of_pool(pool: str, counter_sets: list, devices: list) -> list[dict[str, Any]]:
    specs: list[dict[str, Any]] = []
    for i in range(0, len(counter_sets), MAX_COUNTER_SETS_PER_SLICE):
        # NOTE: a slice names exactly one node selection; counters are reached from every
        # node that may use a device of the pool, local or remote, hence allNodes.
        specs.append({'allNodes': True,
                      'sharedCounters': counter_sets[i:i + MAX_COUNTER_SETS_PER_SLICE]})
    for i in range(0, len(devices), MAX_DEVICES_PER_SLICE):
        specs.append({'perDeviceNodeSelection': True,
                      'devices': devices[i:i + MAX_DEVICES_PER_SLICE]})
    slices = []
    for index, extra in enumerate(specs):
        spec = {'driver': DRIVER,
                'pool': {'name': pool, 'generation': 0, 'resourceSliceCount': len(specs)}}
        spec.update(extra)
        slices.append({'apiVersion': API_VERSION, 'kind': 'ResourceSlice',
                       'metadata': {'name': slice_name(pool, index),
                                    'labels': {'app.kubernetes.io/managed-by': 'pooling-k8s',
                                               f'{DOMAIN}/pool': dns_label(pool)}},
                       'spec': spec})
    return slices


def slice_name(pool: str, index: int) -> str:
    return f'{DOMAIN}-{dns_label(pool, 40)}-{index}'


def content_digest(slices: Sequence[Mapping[str, Any]]) -> str:
    """A digest of a pool's slices ignoring generations (what decides a new generation)."""
    def strip(s):
        s = json.loads(json.dumps(s))
        s['spec']['pool'].pop('generation', None)
        s['metadata'] = {'name': s['metadata']['name']}
        return s
    text = json.dumps([strip(s) for s in slices], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def with_generations(wanted: Mapping[str, list[dict[str, Any]]],
                     published: Mapping[str, tuple[int, str]]) -> dict[str, list[dict]]:
    """Stamp each pool's slices with its generation.

    :param wanted: :func:`resource_slices`.
    :param published: ``{pool: (generation, content digest)}`` of what is in the cluster now.
    :returns: the same slices, each pool at its current generation when unchanged, else one more.
    """
    out = {}
    for pool, slices in wanted.items():
        generation, digest = published.get(pool, (0, ''))
        if digest != content_digest(slices):
            generation += 1
        out[pool] = [json.loads(json.dumps(s)) for s in slices]
        for s in out[pool]:
            s['spec']['pool']['generation'] = generation
    return out
