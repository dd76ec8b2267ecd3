"""Traffic of the remote data plane: what each device host's gateway counted per lease.

The agent sends its gateway's per-lease counters with every heartbeat (``record``); the
metrics collector reads them per vGPU (``per_vgpu``). A lease id changes with every credential
and every move, so a vGPU may have several rows (one per host and lease); they stay until the
vGPU is deleted, so that the vGPU's sums only grow.
"""

import dataclasses
import datetime

import sqlalchemy as sa

from pooling.db import api as db_api
from pooling.db import models

T = models.RemoteTraffic


@dataclasses.dataclass(frozen=True)
class VGPUTraffic:
    """One vGPU's traffic through every gateway that served it."""

    vgpu_uuid: str
    project_id: str
    bytes_in: int  # consumer -> device host
    bytes_out: int  # device host -> consumer
    connections: int  # open at the last reports
    connections_total: int
    last_use: datetime.datetime | None


def _grown(total: int, seen: int, now: int) -> int:
    """The new total when the gateway now says ``now`` and last said ``seen``.

    A smaller value than last time is a gateway that restarted (with its agent): everything it
    counted since is new traffic.
    """
    return total + (now - seen if now >= seen else now)


@db_api.writer
def record(context, host: str, leases: list[dict]) -> None:
    """Store what ``host``'s gateway counted for each lease it serves (agent heartbeat).

    ``leases``: ``{'lease_id', 'vgpu_uuid', 'bytes_in', 'bytes_out', 'connections',
    'connections_total', 'last_use'}`` each (``last_use`` in epoch seconds or None). Leases of
    this host that the agent no longer serves keep their totals with no open connection; the
    rows of deleted vGPUs go.
    """
    session = context.session
    rows = {r.lease_id: r for r in session.scalars(sa.select(T).where(T.host == host))}
    for lease in leases:
        row = rows.pop(lease['lease_id'], None)
        if row is None:
            row = T(host=host, lease_id=lease['lease_id'], vgpu_uuid=lease['vgpu_uuid'],
                    bytes_in_total=0, bytes_out_total=0, connections_total=0, connections=0,
                    seen_in=0, seen_out=0, seen_connections=0)
            session.add(row)
        got_in, got_out = int(lease['bytes_in']), int(lease['bytes_out'])
        got_conns = int(lease['connections_total'])
        row.bytes_in_total = _grown(row.bytes_in_total, row.seen_in, got_in)
        row.bytes_out_total = _grown(row.bytes_out_total, row.seen_out, got_out)
        row.connections_total = _grown(row.connections_total, row.seen_connections, got_conns)
        row.seen_in, row.seen_out, row.seen_connections = got_in, got_out, got_conns
        row.connections = int(lease['connections'])
        if lease.get('last_use'):
            row.last_use = datetime.datetime.fromtimestamp(
                float(lease['last_use']), datetime.timezone.utc).replace(tzinfo=None)
    for row in rows.values():  # revoked or moved away: nothing open any more
        row.connections = 0
    live = sa.select(models.VGPU.uuid).where(models.VGPU.state != 'DELETED')
    session.execute(sa.delete(T).where(T.host == host, T.vgpu_uuid.not_in(live))
                    .execution_options(synchronize_session=False))


@db_api.reader
def per_vgpu(context) -> list[VGPUTraffic]:
    """Each live vGPU's traffic, summed over its hosts and leases (one GROUP BY)."""
    v = models.VGPU
    rows = context.session.execute(
        sa.select(T.vgpu_uuid, v.project_id, sa.func.sum(T.bytes_in_total),
                  sa.func.sum(T.bytes_out_total), sa.func.sum(T.connections),
                  sa.func.sum(T.connections_total), sa.func.max(T.last_use))
        .join(v, v.uuid == T.vgpu_uuid).where(v.state != 'DELETED')
        .group_by(T.vgpu_uuid, v.project_id)).all()
    return [VGPUTraffic(u, p, int(i or 0), int(o or 0), int(c or 0), int(ct or 0), last)
            for u, p, i, o, c, ct, last in rows]
