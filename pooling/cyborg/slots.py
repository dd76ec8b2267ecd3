"""What the pool can give one Nova compute host, per profile: the Cyborg driver's view.

For each profile the scheduler is asked, on a model of the pool loaded for
the call (what it tries is taken back), how many vGPUs of that shape it could
place for a consumer on this host (local cards, and cards of the host's fabric
when the profile allows remote), up to ``[cyborg] max_slots_per_profile``.
vGPUs already serving Nova instances on this host from that profile count as
slots too, so the inventory Cyborg reports to Placement stays put while they
run (Placement holds their allocations). Cyborg reports this at most every
60 s; between reports the conductor's Placement step (``reserved.py``) hides
from Nova what the pool can no longer give, using ``free_count``. Profiles
share cards, so two profiles may each count the same free capacity: Placement
cannot express that, and a bind that no longer fits is refused by the
reconciler.

Each slot has an attach handle: PCI (with the card's address) for a whole
local card, which Nova attaches; TEST_PCI, which Nova passes over, carrying the
pool slot id, for fractional and remote slots (the guest gets those through
vendordata).
"""

from pooling import claims
from pooling import scheduler
from pooling.cyborg import naming
from pooling.cyborg import opts
from pooling.objects import device as device_obj
from pooling.objects import profile as profile_obj
from pooling.objects import vgpu as vgpu_obj

LIVE = (vgpu_obj.SCHEDULED, vgpu_obj.PREPARING, vgpu_obj.ACTIVE)


def pci_info(address: str) -> dict | None:
    """Cyborg/Nova's PCI attach info from ``dddd:bb:dd.f``; None when not a PCI address."""
    try:
        domain, bus, rest = address.split(':')
        dev, func = rest.split('.')
        int(domain, 16), int(bus, 16), int(dev, 16), int(func, 16)
    except (ValueError, AttributeError):
        return None
    return {'domain': domain, 'bus': bus, 'device': dev, 'function': func}


def _handle(profile, host, device, slot_id):
    whole = profile['count'] == 1 and profile['compute_milli'] == 1000
    if whole and device and device['host'] == host:
        info = pci_info(device.get('pci_address') or '')
        if info:
            return {'type': 'PCI', 'info': dict(info, pool_device=device['uuid'])}
    return {'type': 'TEST_PCI', 'info': {'pool_slot': slot_id}}


def spec_for(profile: dict, host: str) -> dict:
    return {'profile': profile['name'], 'compute_milli': profile['compute_milli'],
            'memory_mb': profile['memory_mb'], 'count': profile['count'],
            'models': profile['models'], 'locality': profile['locality'],
            'isolation': profile['isolation'],
            'consumer': {'platform': 'nova', 'host': host, 'id': None}}


def _free_placements(model, conf, spec, limit) -> list:
    """Up to ``limit`` placements of ``spec`` the pool could make now, one after the other.

    They are tried on ``model`` and taken back before returning, so one
    model serves every profile and host of a pass.
    """
    sched = scheduler.Scheduler(model, policy=conf.scheduler.policy)
    request = claims.to_request(spec)
    found = []
    try:
        while len(found) < limit:
            try:
                placement = sched.select(request)
            except (scheduler.NoValidHost, ValueError):
                break
            model.apply(placement)
            found.append(placement)
    finally:
        for placement in found:
            model.release(placement)
    return found


def free_count(model, conf, profile: dict, host: str) -> int:
    """How many more vGPUs of ``profile`` the pool can give a Nova instance on ``host`` now.

    vGPUs already held are not counted (unlike ``host_slots``' totals); at
    most ``[cyborg] max_slots_per_profile``.
    """
    return len(_free_placements(model, conf, spec_for(profile, host),
                                conf.cyborg.max_slots_per_profile))


def host_slots(context, conf, host: str) -> list[dict]:
    """The slots of every profile for Nova compute host ``host``."""
    opts.ensure(conf)
    devices = {d['uuid']: d for d in device_obj.list_devices(context)}
    live = [v for v in vgpu_obj.list_vgpus(context)
            if v['state'] in LIVE and (v['consumer'] or {}).get('host') == host]
    serving = [v for v in live if naming.arq_link(v)]
    limit, hold = conf.cyborg.max_slots_per_profile, conf.cyborg.held_slots_per_profile
    model = claims.load_model(context)
    out = []
    for profile in profile_obj.list_profiles(context):
        held = [v for v in serving if v['profile'] == profile['name']]
        in_use, want = len(held), limit
        if hold:
            # Held slots (pooling.cyborg.holds): one per instance served plus
            # N, the held vGPUs first, then free placements while the holds
            # are not claimed yet (the deployable must exist before them).
            want = len(held) + hold
            held += [v for v in live
                     if v['name'] == naming.hold_name(profile['name'], host)][:hold]
        free = _free_placements(model, conf, spec_for(profile, host), max(0, want - len(held)))
        handles, local = [], 0
        first = [devices.get(v['slices'][0]['device_uuid']) if v['slices'] else None
                 for v in held]
        first += [devices.get(p.slices[0].device_uuid) for p in free]
        for i, device in enumerate(first):
            local += bool(device and device['host'] == host)
            handles.append(_handle(profile, host, device, '%s/%s/%d' % (host, profile['name'],
                                                                         i)))
        out.append({'profile': profile['name'],
                    'device_profile': naming.device_profile_name(conf.cyborg.profile_prefix,
                                                                 profile['name']),
                    'resource_class': naming.resource_class(profile['name']),
                    'traits': naming.traits(profile['name']),
                    'total': len(handles), 'in_use': in_use, 'local': local,
                    'remote': len(handles) - local, 'handles': handles})
    return out
