"""The conductor's entry point for Cyborg: publish profiles, reconcile ARQs, keep
Placement in step.

pooling-conductor calls ``run_once(ctx, conf, conductor)`` every
``[cyborg] sync_interval`` seconds when ``[cyborg] enabled`` is true. A pass
publishes the pool's profiles, turns bound ARQs into vGPUs and releases those
whose ARQ went (``reconciler``, naming vGPUs after their Nova servers:
``nova``), then sets the reserved inventory of our
deployables in Placement from the pool as it is after those claims and
releases (``reserved``). Each step runs even when another fails, and an
outage only logs: the next pass catches up, whatever restarted in between.
Passes never overlap within one process, and run only in the conductor that
holds the database lock of ``leader`` (two reconcilers racing on one ARQ could
both claim): every conductor may run the loop, and another one takes over at
its next pass when the holder dies.
"""

import threading

from oslo_log import log as logging

from pooling import claims
from pooling.cyborg import client as cyborg_client
from pooling.cyborg import holds
from pooling.cyborg import leader as leader_lock
from pooling.cyborg import nova as nova_client
from pooling.cyborg import opts
from pooling.cyborg import placement as placement_client
from pooling.cyborg import publisher
from pooling.cyborg import reconciler
from pooling.cyborg import reserved
from pooling.objects import profile as profile_obj

LOG = logging.getLogger(__name__)
_STATE: dict = {}
_LOCK = threading.Lock()


def _cached(conf, key, factory):
    k = (id(conf), key)
    if k not in _STATE:
        _STATE[k] = factory()
    return _STATE[k]


def run_once(ctx, conf, conductor=None, cyborg=None, claimer=None, placement=None,
             nova=None) -> dict:
    """One sync pass. ``conductor`` is the ConductorManager (prepare/release in-process);
    without it the conductor's RPC API is used.

    :returns: what each step did: ``published`` (publisher.sync), ``arqs``
        (reconciler.reconcile), ``placement`` (reserved.sync); a step that
        failed is left out. ``{'skipped': reason}`` when another conductor
        runs the sync.
    """
    if not opts.ensure(conf).cyborg.enabled:
        return {}
    cyborg = cyborg or _cached(conf, 'client', lambda: cyborg_client.CyborgClient(conf))
    claimer = claimer or _cached(conf, 'claims', lambda: claims.ClaimService(conf))
    placement = placement or _cached(conf, 'placement',
                                     lambda: placement_client.PlacementClient(conf))
    nova = nova or _cached(conf, 'nova', lambda: nova_client.NovaClient(conf))
    cache = _cached(conf, 'providers', dict)
    leader = _cached(conf, 'leader', leader_lock.Leader)
    if conductor is not None:
        prepare, release = conductor.prepare, conductor.release
    else:
        from pooling.conductor import rpcapi

        api = _cached(conf, 'rpcapi', lambda: rpcapi.ConductorAPI(conf))
        prepare = lambda uuid: api.prepare_vgpu(ctx, uuid)  # noqa: E731
        release = lambda uuid: api.release_vgpu(ctx, uuid)  # noqa: E731
    with _LOCK:
        try:
            if not leader.held():
                LOG.debug('Another pooling-conductor runs the Cyborg sync')
                return {'skipped': 'another pooling-conductor runs the Cyborg sync'}
        except Exception as err:
            LOG.warning('Cannot tell whether this conductor runs the Cyborg sync: %s', err)
            return {'skipped': str(err)}
        out = _pass(ctx, conf, cyborg, claimer, prepare, release, nova)
        try:
            holder = None
            if conf.cyborg.held_slots_per_profile:
                holder = holds.Holder(ctx, conf, claimer, prepare, release)
            out['placement'] = reserved.sync(ctx, conf, placement, cache, free=holder)
            if holder is not None:
                out['placement']['holds_released'] = holder.finish()
            else:  # held mode off: give back what an earlier setting held
                released = holds.trim(ctx, set(), holds.by_key(ctx), 0, release)
                if released:
                    out['placement']['holds_released'] = released
        except Exception as err:
            LOG.warning('Keeping Placement in step with the pool failed: %s', err)
        return out


def _pass(ctx, conf, cyborg, claimer, prepare, release, nova) -> dict:
    out = {}
    try:
        out['published'] = publisher.sync(cyborg, conf.cyborg.profile_prefix,
                                          profile_obj.list_profiles(ctx))
    except Exception as err:
        LOG.warning('Publishing profiles to Cyborg failed: %s', err)
    try:
        arqs = cyborg.list_arqs()
    except Exception as err:
        LOG.warning('Listing Cyborg ARQs failed (nothing released): %s', err)
        return out
    out['arqs'] = reconciler.reconcile(ctx, conf, arqs, claimer, prepare, release,
                                       nova_client.ServerNames(nova))
    return out


def stop(conf) -> None:
    """The conductor is stopping: give the sync lock back now, after any pass in flight."""
    with _LOCK:
        leader = _STATE.pop((id(conf), 'leader'), None)
        if leader is not None:
            try:
                leader.release()
            except Exception as err:  # the server drops it with the connection anyway
                LOG.warning('Could not give the Cyborg sync lock back: %s', err)
