"""Which conductor drives which vGPU, and moving a vGPU to other cards.

Several conductors may share one database. Each writes a heartbeat row every
``[conductor] heartbeat_interval``; a vGPU records the conductor that drives
its current transition (``begin_prepare`` and ``claim_release`` stamp it). A
conductor takes over, within ``[conductor] takeover_after`` seconds, every
transitional vGPU whose conductor stopped beating and every SCHEDULED or
RELEASING one that nobody took (its cast died with a conductor's queue):
taking over is safe because every step is idempotent (an agent keeps its
records, ``activate`` is a compare-and-swap on PREPARING).
"""

import datetime

from oslo_utils import timeutils
import sqlalchemy as sa

from pooling import exception
from pooling.db import api as db_api
from pooling.db import models
from pooling.objects import base
from pooling.objects import lease as lease_obj
from pooling.objects import vgpu as vgpu_obj

_V, _C, _S = models.VGPU, models.Conductor, models.Slice
V = vgpu_obj


@db_api.writer
def heartbeat(context, name: str) -> None:
    now = timeutils.utcnow()
    updated = context.session.execute(
        sa.update(_C).where(_C.name == name).values(last_seen=now)).rowcount
    if not updated:
        context.session.add(_C(name=name, last_seen=now))


@db_api.writer
def forget(context, name: str) -> None:
    """A conductor stopping cleanly: its work is taken over at once."""
    context.session.execute(sa.delete(_C).where(_C.name == name))


@V._retried
@db_api.writer
def claim_release(context, uuids, name: str) -> None:
    """Stamp RELEASING vGPUs as driven by ``name``."""
    if uuids:
        context.session.execute(
            sa.update(_V).where(_V.uuid.in_(list(uuids)), _V.state == V.RELEASING)
            .values(conductor=name).execution_options(synchronize_session=False))


@db_api.reader
def orphaned(context, me: str, after: int, mine: bool = False) -> tuple[list[str], list[str]]:
    """(to prepare, to release): transitional vGPUs no live conductor drives.

    Live means a heartbeat within ``after`` seconds. A vGPU nobody stamped is
    orphaned once it waited ``after`` seconds since its last change. With
    ``mine``, what ``me`` stamped counts as orphaned too: a conductor that
    starts under a fixed ``[conductor] name`` is the one that died, and
    nothing else would take its work before ``stuck_after``.
    """
    cutoff = timeutils.utcnow() - datetime.timedelta(seconds=after)
    live = sa.select(_C.name).where(_C.last_seen >= cutoff)
    rows = context.session.execute(
        sa.select(_V.uuid, _V.state).where(
            _V.state.in_((V.SCHEDULED, V.PREPARING, V.RELEASING)),
            sa.or_(sa.and_(_V.conductor.is_(None), _V.updated_at < cutoff),
                   _V.conductor == me if mine else sa.false(),
                   sa.and_(_V.conductor.is_not(None), _V.conductor != me,
                           _V.conductor.not_in(live))))).all()
    prepare = [uuid for uuid, state in rows if state != V.RELEASING]
    release = [uuid for uuid, state in rows if state == V.RELEASING]
    return prepare, release


@db_api.reader
def on_hosts(context, hosts, states) -> list[str]:
    """uuids of vGPUs in ``states`` with a slice on one of ``hosts``."""
    if not hosts:
        return []
    return list(context.session.scalars(
        sa.select(_V.uuid).distinct()
        .join(_S, _S.vgpu_id == _V.id).join(models.Device, models.Device.id == _S.device_id)
        .join(models.Host, models.Host.id == models.Device.host_id)
        .where(models.Host.name.in_(list(hosts)), _V.state.in_(states),
               _V.holds_capacity.is_(True))))


@db_api.writer
def mark_degraded(context, uuid: str, reason: str) -> None:
    context.session.execute(sa.update(_V).where(_V.uuid == uuid)
                            .values(degraded_reason=reason[:1000]))


@db_api.writer
def clear_host_degraded(context, host: str) -> None:
    """A host is back: its vGPUs are no longer degraded by its silence."""
    ids = (sa.select(_S.vgpu_id).join(models.Device, models.Device.id == _S.device_id)
           .join(models.Host, models.Host.id == models.Device.host_id)
           .where(models.Host.name == host))
    context.session.execute(
        sa.update(_V).where(_V.id.in_(ids), _V.degraded_reason.like('%stopped heartbeating%'))
        .values(degraded_reason=None).execution_options(synchronize_session=False))


@V._retried
@db_api.writer
def move(context, uuid: str, placement, reason: str, conductor: str) -> dict:
    """Give back the vGPU's slices and take ``placement``'s, in one transaction.

    The vGPU goes PREPARING with no attachment (but where its consumer runs), a new lease id (its
    credential and expiry stay: the owner keeps what it was given) and one
    more entry in ``moves``.

    :raises NotFound: the vGPU is gone or holds nothing any more.
    :raises GenerationConflict: a new device filled up meanwhile (decide again).
    """
    session = context.session
    conn = session.connection()
    row = session.scalars(sa.select(_V).where(
        _V.uuid == uuid, _V.holds_capacity.is_(True),
        _V.state.in_((V.SCHEDULED, V.PREPARING, V.ACTIVE))).with_for_update()).first()
    if row is None:
        raise exception.NotFound(kind='vGPU', ident=uuid)
    old = V._slices(session, [row.id]).get(row.id, [])
    for device_id, _duuid, compute, memory in sorted(
            conn.execute(V._HELD_PER_DEVICE, {'b_ids': [row.id]}).all(), key=lambda d: d[1]):
        conn.execute(V._GIVE_BACK, {'b_device_id': device_id, 'b_compute': int(compute),
                                    'b_memory': int(memory)})
    conn.execute(sa.delete(_S).where(_S.vgpu_id == row.id))
    for assignment in sorted(placement.slices, key=lambda a: a.device_uuid):
        V._take(session, assignment)
    now = timeutils.utcnow()
    for idx, assignment in enumerate(placement.slices):
        conn.execute(V._INSERT_SLICE, {
            'b_vgpu_id': row.id, 'b_idx': idx, 'b_device': assignment.device_uuid,
            'b_compute': assignment.compute_milli, 'b_memory': assignment.memory_mb,
            'now': now})
    moves = base.loads(row.moves, [])
    moves.append({'at': base.iso(now), 'from': sorted({s['host'] for s in old}),
                  'to': placement.host, 'reason': reason[:500]})
    row.moves = base.dumps(moves)
    # NOTE: where the consumer was located stays (pooling.locate): it tells local from remote.
    location = (base.loads(row.attachment) or {}).get(V.LOCATION)
    row.state, row.state_reason = V.PREPARING, ''
    row.attachment = base.dumps({V.LOCATION: location}) if location else None
    row.lease_id = lease_obj.new_lease_id() if row.lease_id else None
    row.degraded_reason, row.conductor = None, conductor
    session.flush()
    return {'old_slices': old, 'moves': moves}
