"""Per-project quotas (vGPU count, memory, compute) and what each project holds.

What a project holds is summed from its vGPUs that hold capacity, not kept in
a counter: a counter row would be one hot lock that every claim and release of
the project takes. Only a project with limits locks its quota row, and only
while it claims.
"""

import sqlalchemy as sa

from pooling import exception
from pooling.db import api as db_api
from pooling.db import models

RESOURCES = ('vgpus', 'memory_mb', 'compute_milli')
UNLIMITED = -1


def _usage(session, project_id: str) -> dict:
    v = models.VGPU
    vgpus, memory, compute = session.execute(
        sa.select(sa.func.count(v.id), sa.func.coalesce(sa.func.sum(v.memory_mb * v.count), 0),
                  sa.func.coalesce(sa.func.sum(v.compute_milli * v.count), 0))
        .where(v.project_id == project_id, v.holds_capacity.is_(True))).one()
    return {'vgpus': int(vgpus), 'memory_mb': int(memory), 'compute_milli': int(compute)}


@db_api.reader
def get_quota(context, project_id: str) -> dict:
    quota = context.session.get(models.Quota, project_id)
    limits = {r: getattr(quota, r) if quota else UNLIMITED for r in RESOURCES}
    return {'project_id': project_id, **limits, 'usage': _usage(context.session, project_id)}


@db_api.writer
def set_quota(context, project_id: str, **limits) -> None:
    quota = context.session.get(models.Quota, project_id)
    if quota is None:
        quota = models.Quota(project_id=project_id, vgpus=UNLIMITED, memory_mb=UNLIMITED,
                             compute_milli=UNLIMITED)
        context.session.add(quota)
    for resource, value in limits.items():
        setattr(quota, resource, value)


@db_api.writer
def delete_quota(context, project_id: str) -> None:
    context.session.execute(sa.delete(models.Quota).where(models.Quota.project_id == project_id))


# Built once: every claim runs it first (see consume).
_LOCK_QUOTA = (sa.select(models.Quota.vgpus, models.Quota.memory_mb, models.Quota.compute_milli)
               .where(models.Quota.project_id == sa.bindparam('b_project')).with_for_update())


def consume(session, project_id: str, vgpus: int, memory_mb: int, compute_milli: int) -> None:
    """Check quota inside the caller's claim transaction, or raise QuotaExceeded.

    NOTE: this must be the claim's first statement. The project's quota row
    is locked FOR UPDATE, so claims of a limited project take turns, and the
    usage read that follows sees every claim committed before the lock was
    granted (InnoDB takes its snapshot at the first plain read).
    """
    quota = session.connection().execute(_LOCK_QUOTA, {'b_project': project_id}).first()
    if quota is None or all(getattr(quota, r) == UNLIMITED for r in RESOURCES):
        return
    usage = _usage(session, project_id)
    wanted = {'vgpus': vgpus, 'memory_mb': memory_mb, 'compute_milli': compute_milli}
    for resource, amount in wanted.items():
        limit = getattr(quota, resource)
        if limit != UNLIMITED and usage[resource] + amount > limit:
            raise exception.QuotaExceeded(
                project_id=project_id,
                reason='%s: %d in use + %d requested > limit %d'
                % (resource, usage[resource], amount, limit))
