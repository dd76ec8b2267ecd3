"""Pool usage split by the platform that consumes it (``/v1/usage`` from microversion 1.2).

A vGPU's slices hold device capacity while ``holds_capacity`` is true; its consumer's platform
(``nova``, ``cdi``, ``kubernetes``, ``vmware``, ``libvirt``, ``baremetal`` ...; ``none`` for a vGPU
with no consumer) says who uses it. Summing the slices per pool, card model and platform shows
one card's capacity split between the clouds it serves, from the same rows the claims write.
"""

import sqlalchemy as sa

from pooling.db import api as db_api
from pooling.db import models
from pooling.objects import base

NONE = 'none'


@db_api.reader
def by_platform(context, pool=None) -> dict[tuple[str, str], list[dict]]:
    """``{(pool, model): [{"platform", "vgpus", "compute_percent", "memory_mb"}, ...]}``."""
    V, S, D, H, P = (models.VGPU, models.Slice, models.Device, models.Host, models.Pool)
    q = (sa.select(P.name, D.model, V.consumer_platform,
                   sa.func.count(sa.distinct(V.id)), sa.func.sum(S.compute_milli),
                   sa.func.sum(S.memory_mb))
         .select_from(S).join(V, V.id == S.vgpu_id).join(D, D.id == S.device_id)
         .join(H, H.id == D.host_id).join(P, P.id == H.pool_id)
         .where(V.holds_capacity == sa.true())
         .group_by(P.name, D.model, V.consumer_platform))
    if pool:
        q = q.where(base.ident_clause(P, pool))
    found: dict[tuple[str, str], dict[str, list[int]]] = {}
    for pool_name, model, platform, vgpus, compute, memory in context.session.execute(q):
        entry = found.setdefault((pool_name, model), {}).setdefault(platform or NONE, [0, 0, 0])
        entry[0] += int(vgpus)
        entry[1] += int(compute or 0)
        entry[2] += int(memory or 0)
    return {key: [{'platform': name, 'vgpus': v, 'compute_percent': c / 10, 'memory_mb': m}
                  for name, (v, c, m) in sorted(platforms.items())]
            for key, platforms in found.items()}
