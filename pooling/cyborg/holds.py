"""Held slots: vGPUs the pool keeps for Nova, so that every bind fits.

With ``[cyborg] held_slots_per_profile`` = N > 0, each sync pass claims, for
every Nova compute host that has a deployable of a profile in Placement, N
vGPUs of that profile named ``hold_name(profile, host)``, in ``vgpu_obj.HOLD_PROJECT``,
consumer ``{platform: nova, host: <host>, id: None}``. The driver reports them
as that host's slots (slots.host_slots), the Placement step offers Nova only
the held slots no instance has claimed yet (reserved.py), and a bind *adopts*
one: the vGPU is renamed after its ARQ and given the instance's project and
uuid instead of a new claim. Capacity another platform takes can never be a
held slot, so a bind always fits; a server that does not fit is refused by
Placement, where Nova's scheduler tries another host (the only reschedule
Nova has). The next pass holds a new one. The price is N slots per host and
profile that nobody else may use.

Quota: holds are claimed in that project; an adopted hold moves to the
instance's project without a quota check of ours (Nova's unified limits on
the device profile's resource class govern Nova's instances).
"""

import collections

from oslo_log import log as logging

from pooling import exception
from pooling.cyborg import naming
from pooling.cyborg import slots
from pooling.objects import vgpu as vgpu_obj

LOG = logging.getLogger(__name__)


def by_key(context) -> dict:
    """{(host, profile): [live hold vGPUs]}."""
    out = collections.defaultdict(list)
    for v in vgpu_obj.list_vgpus(context, project_id=vgpu_obj.HOLD_PROJECT):
        consumer = v['consumer'] or {}
        if (v['holds_capacity'] and v['state'] in slots.LIVE and v['profile']
                and v['name'] == naming.hold_name(v['profile'], consumer.get('host'))):
            out[(consumer['host'], v['profile'])].append(v)
    return out


def top_up(context, conf, claimer, prepare, profile: dict, host: str, have: list) -> list:
    """Claim holds of ``profile`` for ``host`` until there are N; returns them all."""
    have = list(have)
    while len(have) < conf.cyborg.held_slots_per_profile:
        spec = slots.spec_for(profile, host)
        spec.update(name=naming.hold_name(profile['name'], host), project_id=vgpu_obj.HOLD_PROJECT,
                    user_id='')
        try:
            vgpu = claimer.claim(context, spec)
        except (exception.NoCapacity, exception.QuotaExceeded) as err:
            LOG.info('Holding a %s slot for Nova on %s: %s', profile['name'], host, err)
            break
        LOG.info('Holding vGPU %s (%s) for Nova on %s', vgpu['uuid'], profile['name'], host)
        prepare(vgpu['uuid'])
        have.append(vgpu)
    return have


def trim(context, keep: set, holds: dict, limit: int, release) -> list:
    """Release holds of hosts/profiles not in ``keep``, and any beyond ``limit``."""
    gone = []
    for key, vgpus in holds.items():
        extra = vgpus if key not in keep else vgpus[limit:]
        for v in extra:
            vgpu_obj.request_delete(context, v['uuid'])
            release(v['uuid'])
            gone.append(v['uuid'])
            LOG.info('Released hold %s (%s on %s)', v['uuid'], key[1], key[0])
    return gone


def adopt(context, holds: list, spec: dict, device: str | None = None) -> dict | None:
    """Give one of ``holds`` (on ``device`` if given) to the bound ARQ of ``spec``.

    The adopted hold leaves ``holds``; None when none is left.
    """
    for v in list(holds):
        if device and not any(s['device_uuid'] == device for s in v['slices']):
            continue
        holds.remove(v)
        if vgpu_obj.adopt(context, v['uuid'], v['name'], spec):
            return vgpu_obj.get_vgpu(context, v['uuid'])
    return None


class Holder:
    """The Placement step's ``free(profile, host)`` in held mode: tops holds up, counts them.

    ``finish()`` then releases the holds of hosts and profiles the pass did
    not see (profile deleted, deployable gone) and any beyond N.
    """

    def __init__(self, context, conf, claimer, prepare, release):
        self.context, self.conf = context, conf
        self.claimer, self.prepare, self.release = claimer, prepare, release
        self.current = by_key(context)
        self.counted: dict = {}

    def __call__(self, profile: dict, host: str) -> int:
        key = (host, profile['name'])
        if key not in self.counted:
            held = top_up(self.context, self.conf, self.claimer, self.prepare, profile, host,
                          self.current.get(key, []))
            self.counted[key] = min(len(held), self.conf.cyborg.held_slots_per_profile)
        return self.counted[key]

    def finish(self) -> list:
        return trim(self.context, set(self.counted), by_key(self.context),
                    self.conf.cyborg.held_slots_per_profile, self.release)
