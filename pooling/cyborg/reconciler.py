"""Bound ARQs become vGPUs; gone ARQs release theirs. Both directions, every pass.

Cyborg has no bind hook for drivers, so the pool learns of a bind by listing
ARQs. An ARQ of one of our device profiles that is Bound to an instance gets a
vGPU named after it (``cyborg-arq-<arq uuid>``), of that profile, in the
instance's project, consumer ``{platform: nova, host: <ARQ hostname>, id:
<instance uuid>}``. A whole-card PCI handle pins the vGPU to the card Nova
attaches. A vGPU whose ARQ is gone or no longer Bound (server delete, failed
build, shelve-offload, evacuate) is released. Nothing is released when Cyborg
cannot be listed: a failed listing is not an empty one.

A bind that no longer fits (capacity taken through another platform since the
driver's last report) gets no vGPU and is reported in the pass's result and
log; the driver's next report shrinks the inventory so Placement stops
offering the slot.
"""

from oslo_log import log as logging

from pooling import exception
from pooling import scheduler
from pooling.cyborg import naming
from pooling.cyborg import slots
from pooling.objects import device as device_obj
from pooling.objects import profile as profile_obj
from pooling.objects import vgpu as vgpu_obj

LOG = logging.getLogger(__name__)
V = vgpu_obj


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


def _spec(arq, profile) -> dict:
    spec = slots.spec_for(profile, arq['hostname'])
    spec['consumer']['id'] = arq['instance_uuid']
    spec.update(name=naming.vgpu_name(arq['uuid']), project_id=arq.get('project_id') or '',
                user_id='')
    return spec


def bind(context, claimer, arq, profile) -> dict:
    """Claim the vGPU for one bound ARQ; raises NoCapacity/QuotaExceeded when it won't fit."""
    spec = _spec(arq, profile)
    placement = _pinned(context, arq)
    if placement is None:
        return claimer.claim(context, spec)
    try:
        return V.create_claimed(context, spec, placement)
    except exception.GenerationConflict:
        raise exception.NoCapacity(reason='the card of PCI handle %s is taken'
                                   % arq['attach_handle_info'].get('pool_device')) from None


def reconcile(context, conf, arqs, claimer, prepare, release) -> dict:
    """One pass over Cyborg's ARQ list ``arqs``.

    :param claimer: has ``claim(context, spec)`` (pooling.claims.ClaimService).
    :param prepare: called with a new vGPU's uuid (the conductor drives it to ACTIVE).
    :param release: called with the uuid of a vGPU moved to RELEASING.
    :returns: {'bound': [...], 'released': [...], 'failed': {arq: reason}}.
    """
    prefix = conf.cyborg.profile_prefix
    profiles = {naming.device_profile_name(prefix, p['name']): p
                for p in profile_obj.list_profiles(context)}
    bound = {a['uuid']: a for a in arqs
             if (a.get('device_profile_name') or '').startswith(prefix)
             and a.get('state') == 'Bound' and a.get('instance_uuid') and a.get('hostname')}
    ours = {naming.arq_of(v['name']): v for v in V.list_vgpus(context)
            if naming.arq_of(v['name'])}
    result = {'bound': [], 'released': [], 'failed': {}}
    for uuid, arq in sorted(bound.items()):
        if uuid in ours:
            continue
        profile = profiles.get(arq['device_profile_name'])
        if profile is None:
            result['failed'][uuid] = 'no pool profile for %s' % arq['device_profile_name']
            continue
        try:
            vgpu = bind(context, claimer, arq, profile)
        except (exception.NoCapacity, exception.QuotaExceeded) as err:
            LOG.error('ARQ %s of instance %s is bound but its vGPU does not fit: %s',
                      uuid, arq['instance_uuid'], err)
            result['failed'][uuid] = str(err)
            continue
        LOG.info('ARQ %s (instance %s) -> vGPU %s', uuid, arq['instance_uuid'], vgpu['uuid'])
        prepare(vgpu['uuid'])
        result['bound'].append(vgpu['uuid'])
    for arq_uuid, vgpu in sorted(ours.items()):
        if arq_uuid in bound or vgpu['state'] in (V.RELEASING, V.DELETED):
            continue
        if vgpu['state'] == V.ERROR and not vgpu['holds_capacity']:
            continue
        LOG.info('ARQ %s is gone: releasing vGPU %s', arq_uuid, vgpu['uuid'])
        V.request_delete(context, vgpu['uuid'])
        release(vgpu['uuid'])
        result['released'].append(vgpu['uuid'])
    return result
