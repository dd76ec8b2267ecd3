"""The conductor's entry point for Cyborg: publish profiles, reconcile ARQs.

pooling-conductor calls ``run_once(ctx, conf, conductor)`` every
``[cyborg] sync_interval`` seconds when ``[cyborg] enabled`` is true. Each half
runs even when the other fails, and a Cyborg outage only logs: the next pass
catches up, whatever restarted in between. Passes never overlap within one
process; run it in one conductor only (vGPU names are not unique in the DB, so
two reconcilers racing on one ARQ could both claim).
"""

import threading

from oslo_log import log as logging

from pooling import claims
from pooling.cyborg import client as cyborg_client
from pooling.cyborg import opts
from pooling.cyborg import publisher
from pooling.cyborg import reconciler
from pooling.objects import profile as profile_obj

LOG = logging.getLogger(__name__)
_STATE: dict = {}
_LOCK = threading.Lock()


def _cached(conf, key, factory):
    k = (id(conf), key)
    if k not in _STATE:
        _STATE[k] = factory()
    return _STATE[k]


def run_once(ctx, conf, conductor=None, cyborg=None, claimer=None) -> dict:
    """One sync pass. ``conductor`` is the ConductorManager (prepare/release in-process);
    without it the conductor's RPC API is used."""
    if not opts.ensure(conf).cyborg.enabled:
        return {}
    cyborg = cyborg or _cached(conf, 'client', lambda: cyborg_client.CyborgClient(conf))
    claimer = claimer or _cached(conf, 'claims', lambda: claims.ClaimService(conf))
    if conductor is not None:
        prepare, release = conductor.prepare, conductor.release
    else:
        from pooling.conductor import rpcapi

        api = _cached(conf, 'rpcapi', lambda: rpcapi.ConductorAPI(conf))
        prepare = lambda uuid: api.prepare_vgpu(ctx, uuid)  # noqa: E731
        release = lambda uuid: api.release_vgpu(ctx, uuid)  # noqa: E731
    with _LOCK:
        return _pass(ctx, conf, cyborg, claimer, prepare, release)


def _pass(ctx, conf, cyborg, claimer, prepare, release) -> dict:
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
    out['arqs'] = reconciler.reconcile(ctx, conf, arqs, claimer, prepare, release)
    return out
