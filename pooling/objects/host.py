"""Hosts: what agents report (devices, heartbeats) and whether they are up."""

import datetime

from oslo_utils import timeutils
from oslo_utils import uuidutils
import sqlalchemy as sa

from pooling import exception
from pooling.db import api as db_api
from pooling.db import models
from pooling.objects import base
from pooling.objects import pool as pool_obj

NOT_REPORTED = 'not reported by the agent'


def _to_dict(host, pool_name, device_count) -> dict:
    return {'uuid': host.uuid, 'name': host.name, 'pool': pool_name, 'fabric': host.fabric,
            'state': host.state, 'device_count': device_count, 'cpu_milli': host.cpu_milli,
            'ram_mb': host.ram_mb, 'last_heartbeat': base.iso(host.last_heartbeat),
            **base.timestamps(host)}


def _query():
    counts = (sa.select(models.Device.host_id, sa.func.count(models.Device.id).label('n'))
              .group_by(models.Device.host_id).subquery())
    return (sa.select(models.Host, models.Pool.name, sa.func.coalesce(counts.c.n, 0))
            .join(models.Pool, models.Pool.id == models.Host.pool_id)
            .outerjoin(counts, counts.c.host_id == models.Host.id))


@db_api.reader
def list_hosts(context, pool=None, fabric=None, state=None) -> list[dict]:
    query = _query().order_by(models.Host.name)
    if pool:
        query = query.where(base.ident_clause(models.Pool, pool))
    if fabric:
        query = query.where(models.Host.fabric == fabric)
    if state:
        query = query.where(models.Host.state == state)
    return [_to_dict(*row) for row in context.session.execute(query).all()]


@db_api.reader
def get_host(context, ident: str) -> dict:
    row = context.session.execute(_query().where(base.ident_clause(models.Host, ident))).first()
    if row is None:
        raise exception.NotFound(kind='Host', ident=ident)
    return _to_dict(*row)


@db_api.reader
def topology(context) -> dict[str, list[list[str]]]:
    """{host name: its cards' links as the agent last reported them} (hosts with any)."""
    rows = context.session.execute(
        sa.select(models.Host.name, models.Host.links).where(models.Host.links.is_not(None)))
    return {name: base.loads(links, []) for name, links in rows}


@db_api.reader
def platforms(context) -> dict[str, str]:
    """{host name: platform} of the hosts a platform driver discovered (ESXi hosts).

    Not part of the hosts' API view; the claim service loads it into its model, whose filter
    keeps other consumers off such hosts' cards (``pooling.scheduler``).
    """
    rows = context.session.execute(
        sa.select(models.Host.name, models.Host.platform)
        .where(models.Host.platform.is_not(None)))
    return {name: platform for name, platform in rows}


@db_api.reader
def down_hosts(context) -> set[str]:
    """Names of the hosts marked down (cheap: the conductor asks on every release)."""
    return set(context.session.scalars(
        sa.select(models.Host.name).where(models.Host.state == 'down')))


@db_api.writer
def report(context, name: str, pool: str, fabric: str | None, cpu_milli: int, ram_mb: int,
           devices: list[dict], links: list | None = None,
           platform: str | None = None) -> None:
    """Persist what the agent on ``name`` sees; the host is up from now on.

    ``links``: the drivers' ``[uuid_a, uuid_b, kind]`` links between the host's cards (None
    from an agent that predates them: what is stored stays). ``platform``: the platform driver
    that discovered the host (``vmware`` for an ESXi host), None for a host with its own agent.

    A device the agent no longer reports is kept (vGPUs may hold slices of it)
    but marked unhealthy, so the scheduler stops using it.
    """
    session = context.session
    pool_id = pool_obj.ensure_pool_id(session, pool)
    host = session.scalars(sa.select(models.Host).where(models.Host.name == name)).first()
    if host is None:
        host = models.Host(uuid=uuidutils.generate_uuid(), name=name)
        session.add(host)
    host.pool_id, host.fabric, host.cpu_milli, host.ram_mb = pool_id, fabric, cpu_milli, ram_mb
    host.state, host.last_heartbeat = 'up', timeutils.utcnow()
    host.platform = platform or None
    if links is not None:
        host.links = base.dumps([list(link) for link in links])
    session.flush()
    existing = {d.uuid: d for d in session.scalars(
        sa.select(models.Device).where(models.Device.host_id == host.id))}
    for info in devices:
        row = existing.pop(info['uuid'], None)
        if row is None:
            row = models.Device(uuid=info['uuid'], host_id=host.id, compute_used=0,
                                memory_used=0, generation=0, compute_total=1000,
                                health='healthy', health_reason='')
            session.add(row)
        row.host_id = host.id
        for field in ('vendor', 'model', 'pci_address', 'memory_mb', 'compute_units',
                      'numa_node', 'driver_version'):
            setattr(row, field, info.get(field) if field == 'numa_node' else info.get(field, ''))
        health = 'healthy' if info.get('healthy', True) else 'unhealthy'
        if row.health != health or row.health_reason != info.get('health_reason', ''):
            row.health, row.health_reason = health, info.get('health_reason', '')
            row.generation = (row.generation or 0) + 1
        row.isolation = ','.join(info.get('isolation') or ['none'])
        shapes = sorted({(p['compute_milli'], p['memory_mb'])
                         for p in info.get('partition_profiles') or ()})
        row.partition_shapes = base.dumps(shapes) if shapes else None
    for row in existing.values():
        if row.health_reason != NOT_REPORTED:
            row.health, row.health_reason = 'unhealthy', NOT_REPORTED
            row.generation += 1


@db_api.writer
def mark_down_stale(context, older_than: int) -> list[str]:
    """Mark down every up host whose last heartbeat is older than ``older_than`` s."""
    cutoff = timeutils.utcnow() - datetime.timedelta(seconds=older_than)
    stale = context.session.scalars(
        sa.select(models.Host).where(models.Host.state == 'up',
                                     models.Host.last_heartbeat < cutoff)).all()
    for host in stale:
        host.state = 'down'
    return [h.name for h in stale]
