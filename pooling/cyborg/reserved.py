"""Keep Placement in step with the pool: the ``reserved`` of our deployables' inventories.

Placement is the only gate Nova reschedules on: once its scheduler's claim
succeeded, a bind that fails leaves the server in ERROR (Nova's conductor
neither reschedules nor tries an alternate; see doc/source/admin/nova.md).
Cyborg writes our deployables' inventory ``{total: N, max_unit: N}`` from the
driver's report, at most every 60 s and only when N changes, with
``reserved`` 0. In between the pool moves on (a vGPU taken or freed through
another platform), so each sync pass sets, on every deployable of ours::

    reserved  = clamp(total - used - can_give, 0, total)
    can_give  = max(0, free - pending)

Placement's free capacity, ``total - reserved - used``, is then what the pool
can give Nova on that host for that profile now. ``free`` is how many more
vGPUs of the profile the pool can place for an instance on that host
(``slots.free_count``); ``pending`` counts the units Placement has allocated
to instances that hold no vGPU yet (claimed by Nova's scheduler, not bound or
not reconciled yet): they will take from ``free``. Units of instances that
have their vGPU are in ``used`` and not in ``free``, so they cancel out.

``reserved`` never goes below 0: when the pool can give more than
``total - used`` (capacity came back), Placement offers ``total - used`` until
Cyborg's next report raises ``total``; we never raise ``total`` ourselves,
because Cyborg keeps one attach handle per unit and a bind without a free
handle fails. Allocations above capacity are left alone (Placement allows a
provider to be over capacity; it only refuses new allocations).

A provider is written only when its ``reserved`` changes, with its
generation; a conflict (Cyborg's conductor or Nova wrote it meanwhile) is read
again and decided again. A provider whose generation has not moved since the
last pass is not read again, except for its allocations while it has some, so
a pass costs one GET plus one per deployable that serves Nova instances.
"""

import collections

from oslo_log import log as logging

from pooling import claims
from pooling.cyborg import naming
from pooling.cyborg import placement as placement_client
from pooling.cyborg import slots
from pooling.objects import profile as profile_obj
from pooling.objects import vgpu as vgpu_obj

LOG = logging.getLogger(__name__)
RC_PREFIX = naming.resource_class('')
ATTEMPTS = 3


def reserved(total: int, used: int, can_give: int) -> int:
    """The ``reserved`` that leaves Placement ``can_give`` free, within [0, total]."""
    return max(0, min(total, total - used - can_give))


def pending(allocations: dict, rc: str, held: collections.Counter) -> int:
    """Units of ``rc`` allocated to consumers beyond the vGPUs they hold (``held``)."""
    return sum(max(0, resources.get(rc, 0) - held.get(consumer, 0))
               for consumer, resources in allocations.items())


def held_by_instance(context) -> dict:
    """{(host, profile): Counter(instance uuid: vGPUs holding capacity)} of Cyborg binds."""
    out: dict = collections.defaultdict(collections.Counter)
    for v in vgpu_obj.list_vgpus(context):
        consumer = v['consumer'] or {}
        if v['holds_capacity'] and naming.arq_link(v) and consumer.get('id'):
            out[(consumer.get('host'), v['profile'])][consumer['id']] += 1
    return out


def _host(rp_name: str, prefix: str, profile: dict) -> str | None:
    """The compute host of a deployable named ``<host>_<device profile>`` (driver.translate)."""
    suffix = '_' + naming.device_profile_name(prefix, profile['name'])
    if rp_name.endswith(suffix) and len(rp_name) > len(suffix):
        return rp_name[:-len(suffix)]
    return None


class Pass:
    """One pass over our deployables.

    :param profiles: {resource class: pool profile}.
    :param held: what ``held_by_instance`` returns.
    :param free: ``free(profile, host)`` -> how many more vGPUs the pool can give.
    :param cache: {rp uuid: (generation, inventories, allocations)}, kept across passes.
    """

    def __init__(self, conf, client, cache: dict, profiles: dict, held: dict, free):
        self.conf, self.client, self.cache = conf, client, cache
        self.prefix = conf.cyborg.profile_prefix
        self.profiles, self.held, self.free = profiles, held, free

    def _read(self, rp: dict) -> tuple[int, dict, dict]:
        # NOTE: Placement bumps a provider's generation when its inventory
        # changes or allocations are made against it, but not when
        # allocations are deleted (DELETE /allocations/{consumer}). So what
        # we read is reused only for a provider whose generation has not
        # moved and that had no allocations then; a provider with Nova
        # instances on it has its allocations read every pass.
        cached = self.cache.get(rp['uuid'])
        if cached is not None and cached[0] == rp['generation']:
            if not cached[2]:
                return cached
            generation, allocations = self.client.allocations(rp['uuid'])
            if generation == cached[0]:
                return (generation, cached[1], allocations)
        generation, inventories = self.client.inventories(rp['uuid'])
        alloc_generation, allocations = self.client.allocations(rp['uuid'])
        state = (generation, inventories, allocations)
        if alloc_generation == generation:
            self.cache[rp['uuid']] = state
        else:
            self.cache.pop(rp['uuid'], None)
        return state

    def wanted(self, rp: dict, inventories: dict, allocations: dict) -> dict:
        """{rc: (reserved now, reserved wanted, why)} for our classes on ``rp``."""
        out = {}
        for rc, inv in inventories.items():
            if not rc.startswith(RC_PREFIX):
                continue
            profile = self.profiles.get(rc)
            host = profile and _host(rp['name'], self.prefix, profile)
            if profile and host is None:
                LOG.warning('Placement provider %s has %s but is not named <host>_%s: '
                            'left alone', rp['name'], rc,
                            naming.device_profile_name(self.prefix, profile['name']))
                continue
            used = sum(resources.get(rc, 0) for resources in allocations.values())
            free = self.free(profile, host) if profile else 0  # a deleted profile gives none
            waiting = pending(allocations, rc, self.held.get(
                (host, profile and profile['name']), collections.Counter()))
            can_give = max(0, free - waiting)
            want = reserved(inv['total'], used, can_give)
            why = 'total %d, used %d, pool can give %d (%d free, %d allocated without a vGPU)' % (
                inv['total'], used, can_give, free, waiting)
            out[rc] = (inv.get('reserved', 0), want, why)
        return out

    def one(self, rp: dict) -> dict:
        """Set ``rp``'s reserved; returns {rc: reserved} for what was written."""
        for _ in range(ATTEMPTS):
            generation, inventories, allocations = self._read(rp)
            changes = {rc: w for rc, w in self.wanted(rp, inventories, allocations).items()
                       if w[0] != w[1]}
            if not changes:
                return {}
            body = {rc: dict(inv, reserved=changes[rc][1]) if rc in changes else inv
                    for rc, inv in inventories.items()}
            try:
                new_generation = self.client.set_inventories(rp['uuid'], generation, body)
            except placement_client.GenerationConflict:
                self.cache.pop(rp['uuid'], None)
                continue
            self.cache[rp['uuid']] = (new_generation, body, allocations)
            for rc, (old, new, why) in sorted(changes.items()):
                LOG.info('Placement provider %s: %s reserved %d -> %d (%s)', rp['name'], rc,
                         old, new, why)
            return {rc: w[1] for rc, w in changes.items()}
        raise placement_client.PlacementError(
            'provider %s changed under us %d times in a row' % (rp['name'], ATTEMPTS))


def _free_counter(context, conf):
    """``free(profile, host)`` on one model of the pool, loaded on first use, memoized."""
    model, memo = [], {}

    def free(profile: dict, host: str) -> int:
        key = (profile['name'], host)
        if key not in memo:
            if not model:
                model.append(claims.load_model(context))
            memo[key] = slots.free_count(model[0], conf, profile, host)
        return memo[key]

    return free


def sync(context, conf, client, cache: dict, free=None) -> dict:
    """One pass over every deployable of ours in Placement.

    ``free(profile, host)``: how many units Nova may have there; by default
    what the pool has free (``slots.free_count``), in held mode the held
    slots (pooling.cyborg.holds.Holder).

    :returns: {'updated': {rp name: {rc: reserved}}, 'failed': {rp name: reason}}.
    :raises PlacementError: our providers could not be listed (nothing was changed).
    """
    rps = client.providers(naming.POOLING_TRAIT)
    for gone in set(cache) - {rp['uuid'] for rp in rps}:
        del cache[gone]
    out = {'updated': {}, 'failed': {}}
    if not rps:
        return out
    step = Pass(conf, client, cache, profiles={
        naming.resource_class(p['name']): p for p in profile_obj.list_profiles(context)},
        held=held_by_instance(context), free=free or _free_counter(context, conf))
    for rp in sorted(rps, key=lambda r: r['name']):
        try:
            done = step.one(rp)
        except placement_client.PlacementError as err:
            LOG.warning('Setting the reserved inventory of %s failed: %s', rp['name'], err)
            cache.pop(rp['uuid'], None)
            out['failed'][rp['name']] = str(err)
            continue
        if done:
            out['updated'][rp['name']] = done
    return out
