"""Per-project quotas (vGPU count, memory, compute) and what each project holds."""

import sqlalchemy as sa

from pooling import exception
from pooling.db import api as db_api
from pooling.db import models

RESOURCES = ('vgpus', 'memory_mb', 'compute_milli')
UNLIMITED = -1


def _usage_row(session, project_id, lock=False):
    query = sa.select(models.QuotaUsage).where(models.QuotaUsage.project_id == project_id)
    if lock:
        query = query.with_for_update()
    return session.scalars(query).first()


@db_api.reader
def get_quota(context, project_id: str) -> dict:
    quota = context.session.get(models.Quota, project_id)
    usage = _usage_row(context.session, project_id)
    limits = {r: getattr(quota, r) if quota else UNLIMITED for r in RESOURCES}
    used = {r: getattr(usage, r) if usage else 0 for r in RESOURCES}
    return {'project_id': project_id, **limits, 'usage': used}


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


def consume(session, project_id: str, vgpus: int, memory_mb: int, compute_milli: int) -> None:
    """Take quota inside the caller's claim transaction, or raise QuotaExceeded.

    NOTE: the usage row is locked FOR UPDATE so that concurrent claims of one
    project serialize on it (MariaDB, PostgreSQL); SQLite has one writer anyway.
    """
    usage = _usage_row(session, project_id, lock=True)
    if usage is None:
        usage = models.QuotaUsage(project_id=project_id, vgpus=0, memory_mb=0, compute_milli=0)
        session.add(usage)
        session.flush()
    quota = session.get(models.Quota, project_id)
    wanted = {'vgpus': vgpus, 'memory_mb': memory_mb, 'compute_milli': compute_milli}
    if quota is not None:
        for resource, amount in wanted.items():
            limit = getattr(quota, resource)
            if limit != UNLIMITED and getattr(usage, resource) + amount > limit:
                raise exception.QuotaExceeded(
                    project_id=project_id,
                    reason='%s: %d in use + %d requested > limit %d'
                    % (resource, getattr(usage, resource), amount, limit))
    for resource, amount in wanted.items():
        setattr(usage, resource, getattr(usage, resource) + amount)


def lock_usage(session, project_id: str) -> None:
    """Lock the project's usage row (a release takes it before any device row)."""
    _usage_row(session, project_id, lock=True)


def give_back(session, project_id: str, vgpus: int, memory_mb: int, compute_milli: int):
    session.execute(
        sa.update(models.QuotaUsage).where(models.QuotaUsage.project_id == project_id)
        .values(vgpus=models.QuotaUsage.vgpus - vgpus,
                memory_mb=models.QuotaUsage.memory_mb - memory_mb,
                compute_milli=models.QuotaUsage.compute_milli - compute_milli))
