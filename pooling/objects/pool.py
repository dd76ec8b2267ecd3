"""Pools: named sets of hosts managed together."""

from oslo_db import exception as db_exc
from oslo_utils import uuidutils
import sqlalchemy as sa

from pooling import exception
from pooling.db import api as db_api
from pooling.db import models
from pooling.objects import base


def _to_dict(row, host_count=0, device_count=0) -> dict:
    return {'uuid': row.uuid, 'name': row.name, 'description': row.description,
            'host_count': host_count, 'device_count': device_count, **base.timestamps(row)}


def _find(session, ident) -> models.Pool:
    row = session.scalars(sa.select(models.Pool).where(
        base.ident_clause(models.Pool, ident))).first()
    if row is None:
        raise exception.NotFound(kind='Pool', ident=ident)
    return row


def _counts(session, pool_ids):
    hosts = dict(session.execute(
        sa.select(models.Host.pool_id, sa.func.count(models.Host.id))
        .where(models.Host.pool_id.in_(pool_ids)).group_by(models.Host.pool_id)).all())
    devices = dict(session.execute(
        sa.select(models.Host.pool_id, sa.func.count(models.Device.id))
        .join(models.Device, models.Device.host_id == models.Host.id)
        .where(models.Host.pool_id.in_(pool_ids)).group_by(models.Host.pool_id)).all())
    return hosts, devices


@db_api.reader
def list_pools(context) -> list[dict]:
    rows = context.session.scalars(sa.select(models.Pool).order_by(models.Pool.name)).all()
    hosts, devices = _counts(context.session, [r.id for r in rows])
    return [_to_dict(r, hosts.get(r.id, 0), devices.get(r.id, 0)) for r in rows]


@db_api.reader
def get_pool(context, ident: str) -> dict:
    row = _find(context.session, ident)
    hosts, devices = _counts(context.session, [row.id])
    return _to_dict(row, hosts.get(row.id, 0), devices.get(row.id, 0))


@db_api.writer
def create_pool(context, name: str, description: str = '') -> dict:
    row = models.Pool(uuid=uuidutils.generate_uuid(), name=name, description=description)
    try:
        context.session.add(row)
        context.session.flush()
    except db_exc.DBDuplicateEntry:
        raise exception.Duplicate(kind='Pool', ident=name) from None
    return _to_dict(row)


@db_api.writer
def delete_pool(context, ident: str) -> None:
    row = _find(context.session, ident)
    hosts = context.session.scalar(
        sa.select(sa.func.count(models.Host.id)).where(models.Host.pool_id == row.id))
    if hosts:
        raise exception.InUse(kind='Pool', ident=ident, reason='%d host(s) still belong to it'
                              % hosts)
    context.session.delete(row)


def ensure_pool_id(session, name: str) -> int:
    """The id of pool ``name``, created on first use (agents name their pool)."""
    query = sa.select(models.Pool.id).where(models.Pool.name == name)
    pool_id = session.scalar(query)
    if pool_id is None:
        try:
            # Two agents may name a new pool at once: the loser reads the winner's.
            with session.begin_nested():
                session.add(models.Pool(uuid=uuidutils.generate_uuid(), name=name,
                                        description=''))
        except db_exc.DBDuplicateEntry:
            pass
        # NOTE: a locking read: under MariaDB's REPEATABLE READ a plain SELECT would still see
        # this transaction's first snapshot, without the winner's row (pool_id NULL).
        pool_id = session.scalar(query.with_for_update(read=True))
    return pool_id
