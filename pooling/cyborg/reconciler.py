"""Bound ARQs become vGPUs; gone ARQs release theirs. Both directions, every pass.

Cyborg has no bind hook for drivers, so the pool learns of a bind by listing
ARQs. An ARQ of one of our device profiles that is Bound to an instance gets a
vGPU of that profile, in the instance's project, consumer ``{platform: nova,
host: <ARQ hostname>, id: <instance uuid>}``, linked to the ARQ by its
``cyborg_arq``. A whole-card PCI handle pins the vGPU to the card Nova
attaches.

The vGPU is named after the Nova server (what the tenant sees in ``openstack
accelerator vgpu list`` and Horizon), asked of Nova with a short timeout
(pooling.cyborg.nova). When Nova cannot be asked, the instance uuid stands in,
and a later pass renames the vGPU once Nova answers; so it does a vGPU made
before migration 0007, named ``cyborg-arq-<arq uuid>``, after filling in its
``cyborg_arq`` from that name (the online part of the migration). Only these
provisional names send the pass to Nova: a vGPU that has its server's name is
not asked about again (a later rename of the server is not followed).

A vGPU whose ARQ is gone or no longer Bound (server delete, failed build,
shelve-offload, evacuate) is released. Nothing is released when Cyborg
cannot be listed: a failed listing is not an empty one.

A bind that no longer fits (capacity taken through another platform between
Nova's Placement claim and this pass: the window ``reserved.py`` narrows to
one pass but cannot close) is never forced: the claim is the pool's
compare-and-swap, so nothing is double-allocated. Nova has already started
the server by then and would not reschedule anyway (a failed bind is an
ERROR, not a reschedule), so the ARQ is recorded as an *unbound record*: a vGPU
linked to the ARQ and named after its server, in ERROR, holding no capacity,
with the state reason ``bound by Cyborg but no capacity: ...`` (or ``... over
quota: ...``) and the instance as consumer. We chose a vGPU over a log line or a field of the pass
result because operators and the tenant already look at vGPUs (``GET
/v1/vgpus?state=ERROR``, the CLI), it names the instance, it survives a
conductor restart, and it needs no new API. Every later pass tries the claim
again: when it fits, the vGPU is claimed and the record goes to DELETED; when
the ARQ goes first, so does the record. Each pass also reports the ARQ under
``unbound`` (with the instance) and logs it; the first failure at ERROR,
later ones at DEBUG.

With held slots (``[cyborg] held_slots_per_profile``, pooling.cyborg.holds) a
bound ARQ adopts a vGPU the pool held for its host and profile instead of
claiming one, so it always fits.
"""

from oslo_log import log as logging

from pooling import exception
from pooling import scheduler
from pooling.cyborg import holds
from pooling.cyborg import naming
from pooling.cyborg import slots
from pooling.objects import device as device_obj
from pooling.objects import profile as profile_obj
from pooling.objects import vgpu as vgpu_obj

LOG = logging.getLogger(__name__)
V = vgpu_obj
UNBOUND = 'bound by Cyborg but '


def _pinned(context, arq) -> 'scheduler.Placement | None':
    """A one-card placement on the card of a whole-card PCI handle, if it is one."""
    info = arq.get('attach_handle_info') or {}
    if arq.get('attach_handle_type') != 'PCI' or not info.get('pool_device'):
        return None
    for d in device_obj.list_devices(context):
        if d['uuid'] == info['pool_device']:
            slice_ = scheduler.SliceAssignment(d['uuid'], d['compute_total'], d['memory_mb'],
                                               d['generation'])
            return scheduler.Placement(d['host'], (slice_,), arq['hostname'])
    return None


def _no_names(instance_uuid):
    return None


def _spec(arq, profile, names=_no_names) -> dict:
    spec = slots.spec_for(profile, arq['hostname'])
    spec['consumer']['id'] = arq['instance_uuid']
    spec.update(name=names(arq['instance_uuid']) or arq['instance_uuid'],
                project_id=arq.get('project_id') or '', user_id='', cyborg_arq=arq['uuid'])
    return spec


def bind(context, claimer, arq, profile, held=None, names=_no_names) -> dict:
    """Claim the vGPU for one bound ARQ; raises NoCapacity/QuotaExceeded when it won't fit.

    With ``held`` (the held slots of its host and profile, pooling.cyborg.holds)
    one of them is adopted first: on the card of a whole-card PCI handle, or any.

    :param names: ``names(instance uuid)`` → the server's name or None (pooling.cyborg.nova).
    """
    spec = _spec(arq, profile, names)
    placement = _pinned(context, arq)
    if held:
        vgpu = holds.adopt(context, held, spec,
                           placement.slices[0].device_uuid if placement else None)
        if vgpu is not None:
            return vgpu
    if placement is None:
        return claimer.claim(context, spec)
    try:
        return V.create_claimed(context, spec, placement)
    except exception.GenerationConflict:
        raise exception.NoCapacity(reason='the card of PCI handle %s is taken'
                                   % arq['attach_handle_info'].get('pool_device')) from None


def is_unbound_record(vgpu: dict) -> bool:
    return (vgpu['state'] == V.ERROR and not vgpu['holds_capacity']
            and (vgpu['state_reason'] or '').startswith(UNBOUND))


def _reason(err) -> str:
    if isinstance(err, exception.QuotaExceeded):
        return UNBOUND + 'over quota: %s' % err
    return UNBOUND + 'no capacity: %s' % err


def _ours(context, bound: dict) -> dict:
    """{ARQ uuid: its vGPU}; a vGPU holding capacity wins over an unbound record.

    A Nova vGPU from before migration 0007, linked by its name only, gets its ``cyborg_arq``
    when the bound ARQ of that name shows it is that ARQ's (same instance), and is not that
    ARQ's when it shows another instance (any project may name a vGPU so); it ranks below a
    linked vGPU of the same ARQ.
    """
    ours: dict = {}
    for v in V.list_vgpus(context):
        arq = naming.arq_link(v)
        if not arq:
            continue
        instance = (bound.get(arq) or {}).get('instance_uuid')
        if not v.get('cyborg_arq') and instance is not None:
            if instance != v['consumer']['id']:
                continue
            if V.link_arq(context, v['uuid'], arq):
                LOG.info('vGPU %s (from before the cyborg_arq column) linked to ARQ %s',
                         v['uuid'], arq)
            v = dict(v, cyborg_arq=arq)
        have = ours.get(arq)
        if (have is None or is_unbound_record(have)
                or (v.get('cyborg_arq') and not have.get('cyborg_arq'))):
            ours[arq] = v
    return ours


def _rename(context, vgpu, arq, names) -> None:
    """Name the vGPU of a bound ARQ after its server if it still has a provisional name."""
    provisional = (arq['instance_uuid'], naming.vgpu_name(arq['uuid']))
    if vgpu['name'] not in provisional or vgpu['state'] in (V.RELEASING, V.DELETED):
        return
    name = names(arq['instance_uuid']) or arq['instance_uuid']
    if name != vgpu['name'] and V.rename(context, vgpu['uuid'], vgpu['name'], name):
        LOG.info('vGPU %s of instance %s renamed %r', vgpu['uuid'], arq['instance_uuid'],
                 name)


def _bind_one(context, claimer, arq, profile, record, result, held=None,
              names=_no_names) -> dict | None:
    """Claim the vGPU of one bound ARQ, or keep (or make) its unbound record.

    Returns the vGPU, or None when it does not fit.
    """
    uuid = arq['uuid']
    try:
        vgpu = bind(context, claimer, arq, profile, held, names)
    except (exception.NoCapacity, exception.QuotaExceeded) as err:
        reason = _reason(err)
        result['failed'][uuid] = reason
        if record is None:
            record = V.record_unheld(context, _spec(arq, profile, names), reason)
            LOG.error('ARQ %s of instance %s on %s is bound but its vGPU does not fit; '
                      'recorded as vGPU %s in ERROR, retried every pass: %s', uuid,
                      arq['instance_uuid'], arq['hostname'], record['uuid'], reason)
        else:
            LOG.debug('ARQ %s of instance %s still does not fit: %s', uuid,
                      arq['instance_uuid'], reason)
            if record['state_reason'] != reason:
                V.set_state(context, record['uuid'], V.ERROR, reason, expected=(V.ERROR,))
        result['unbound'][uuid] = {'instance': arq['instance_uuid'], 'host': arq['hostname'],
                                   'vgpu': record['uuid']}
        return None
    if record is not None:
        V.set_state(context, record['uuid'], V.DELETED, 'claimed as vGPU %s' % vgpu['uuid'],
                    expected=(V.ERROR,))
        LOG.info('ARQ %s (instance %s) fits now: vGPU %s replaces unbound record %s', uuid,
                 arq['instance_uuid'], vgpu['uuid'], record['uuid'])
    LOG.info('ARQ %s (instance %s) -> vGPU %s', uuid, arq['instance_uuid'], vgpu['uuid'])
    result['bound'].append(vgpu['uuid'])
    return vgpu


def reconcile(context, conf, arqs, claimer, prepare, release, names=_no_names) -> dict:
    """One pass over Cyborg's ARQ list ``arqs``.

    :param claimer: has ``claim(context, spec)`` (pooling.claims.ClaimService).
    :param prepare: called with a new vGPU's uuid (the conductor drives it to ACTIVE).
    :param release: called with the uuid of a vGPU moved to RELEASING.
    :param names: ``names(instance uuid)`` → its server's name, or None when Nova cannot
        tell (pooling.cyborg.nova.ServerNames); the instance uuid stands in.
    :returns: {'bound': [vGPU uuids], 'released': [vGPU uuids], 'failed': {arq: reason},
        'unbound': {arq: {instance, host, vgpu}}} where ``unbound`` are the
        bound ARQs that hold no capacity (their unbound record is ``vgpu``).
    """
    prefix = conf.cyborg.profile_prefix
    profiles = {naming.device_profile_name(prefix, p['name']): p
                for p in profile_obj.list_profiles(context)}
    bound = {a['uuid']: a for a in arqs
             if (a.get('device_profile_name') or '').startswith(prefix)
             and a.get('state') == 'Bound' and a.get('instance_uuid') and a.get('hostname')}
    ours = _ours(context, bound)
    held = holds.by_key(context) if conf.cyborg.held_slots_per_profile else {}
    result = {'bound': [], 'released': [], 'failed': {}, 'unbound': {}}
    for uuid, arq in sorted(bound.items()):
        have = ours.get(uuid)
        if have is not None:
            _rename(context, have, arq, names)
            if not is_unbound_record(have):
                continue
        profile = profiles.get(arq['device_profile_name'])
        if profile is None:
            result['failed'][uuid] = 'no pool profile for %s' % arq['device_profile_name']
            continue
        vgpu = _bind_one(context, claimer, arq, profile, have, result,
                         held.get((arq['hostname'], profile['name'])), names)
        if vgpu is not None:
            prepare(vgpu['uuid'])
    for arq_uuid, vgpu in sorted(ours.items()):
        if arq_uuid in bound or vgpu['state'] in (V.RELEASING, V.DELETED):
            continue
        if is_unbound_record(vgpu):
            V.set_state(context, vgpu['uuid'], V.DELETED, 'ARQ %s is gone' % arq_uuid,
                        expected=(V.ERROR,))
            continue
        if vgpu['state'] == V.ERROR and not vgpu['holds_capacity']:
            continue
        LOG.info('ARQ %s is gone: releasing vGPU %s', arq_uuid, vgpu['uuid'])
        V.request_delete(context, vgpu['uuid'])
        release(vgpu['uuid'])
        result['released'].append(vgpu['uuid'])
    return result
