"""vGPUs and their slices: the claim transaction and the state machine's writes.

A claim is one transaction: quota is taken, then every slice's device row is
updated with a compare-and-swap on its generation (and a capacity guard), then
the vGPU and its slices are inserted. Any failed step rolls everything back, so
two claims can never take the same capacity whatever the number of API workers.
"""

import datetime

from oslo_db import api as oslo_db_api
from oslo_utils import timeutils
from oslo_utils import uuidutils
import sqlalchemy as sa

from pooling import exception
from pooling.db import api as db_api
from pooling.db import models
from pooling.objects import base
from pooling.objects import quota as quota_obj

SCHEDULED, PREPARING, ACTIVE = 'SCHEDULED', 'PREPARING', 'ACTIVE'
#: The attachment key of the pool host the consumer ran on when the vGPU was placed, when that
#: is not its own host (a vSphere VM's ESXi host; pooling.locate). Kept by every attachment
#: write: the prepare path (pooling.objects.prepare) tells local from remote by it.
LOCATION = 'consumer_location'  # as pooling.objects.prepare.LOCATION
# The project of the vGPUs the pool holds for Nova (pooling.cyborg.holds).
HOLD_PROJECT = 'pooling-cyborg-holds'
RELEASING, DELETED, ERROR = 'RELEASING', 'DELETED', 'ERROR'


# NOTE: the reads and writes below run on every claim, DELETE and conductor
# batch. They are Core statements built once with bind parameters (an IN list
# is an expanding parameter): building, cache-keying and ORM-loading a
# statement per call cost more CPU than the database's work.
_D, _S, _V, _H = models.Device, models.Slice, models.VGPU, models.Host
_SLICES = (sa.select(_S.vgpu_id, _S.idx, _S.compute_milli, _S.memory_mb,
                     _D.uuid.label('device_uuid'), _D.health, _H.name.label('host'))
           .join(_D, _D.id == _S.device_id).join(_H, _H.id == _D.host_id)
           .where(_S.vgpu_id.in_(sa.bindparam('b_ids', expanding=True)))
           .order_by(_S.idx))
_MANY = sa.select(_V.__table__).where(_V.uuid.in_(sa.bindparam('b_uuids', expanding=True)))
_MANY_IN_STATE = _MANY.where(_V.state == sa.bindparam('b_state'))
_ONE = sa.select(_V.__table__).where(_V.uuid == sa.bindparam('b_uuid'))
_ONE_OWN = _ONE.where(_V.project_id == sa.bindparam('b_project'))


def _slices(session, vgpu_ids):
    by_vgpu = {}
    if not vgpu_ids:
        return by_vgpu
    for vgpu_id, idx, compute, memory, device_uuid, health, host in session.connection().execute(
            _SLICES, {'b_ids': list(vgpu_ids)}):
        by_vgpu.setdefault(vgpu_id, []).append(
            {'index': idx, 'host': host, 'device_uuid': device_uuid, 'compute_milli': compute,
             'memory_mb': memory, 'device_health': health})
    return by_vgpu


def _to_dict(v, slices) -> dict:
    """The API's view of a vgpus row (a mapping: a Core row's ``_mapping`` or its values)."""
    return {'uuid': v['uuid'], 'name': v['name'], 'project_id': v['project_id'],
            'user_id': v['user_id'], 'state': v['state'], 'state_reason': v['state_reason'],
            'profile': v['profile'], 'compute_milli': v['compute_milli'],
            'memory_mb': v['memory_mb'], 'count': v['count'],
            'models': base.loads(v['models'], []), 'locality': v['locality'],
            'isolation': v['isolation'],
            'consumer': ({'platform': v['consumer_platform'], 'host': v['consumer_host'],
                          'id': v['consumer_id']} if v['consumer_platform'] else None),
            'slices': slices, 'attachment': base.loads(v['attachment']),
            'holds_capacity': v['holds_capacity'],
            'lease': ({'lease_id': v.get('lease_id'),
                       'expires_at': base.iso(v.get('lease_expires_at'))}
                      if v.get('lease_id') else None),
            'lease_token_sha256': v.get('lease_token_sha256'),
            'moves': base.loads(v.get('moves'), []),
            'degraded_reason': v.get('degraded_reason') or '',
            'conductor': v.get('conductor'),
            'link': v.get('link'),
            'cyborg_arq': v.get('cyborg_arq'),
            'created_at': base.iso(v['created_at']),
            'updated_at': base.iso(v['updated_at'])}


def _with_slices(session, rows) -> list[dict]:
    slices = _slices(session, [r.id for r in rows])
    return [_to_dict(r._mapping, slices.get(r.id, [])) for r in rows]


@db_api.reader
def list_vgpus(context, project_id=None, state=None, consumer=None, limit=None):
    query = sa.select(_V.__table__).order_by(_V.created_at, _V.id)
    if project_id is not None:
        query = query.where(_V.project_id == project_id)
    if state:
        query = query.where(_V.state == state)
    else:
        query = query.where(_V.state != DELETED)
    if consumer:
        query = query.where(_V.consumer_platform == consumer[0])
        if consumer[1] is not None:
            query = query.where(_V.consumer_id == consumer[1])
    if limit:
        query = query.limit(limit)
    return _with_slices(context.session, context.session.connection().execute(query).all())


@db_api.reader
def resolve(context, ident: str, project_id: str) -> str:
    """The uuid of the vGPU ``ident`` names: a uuid as it is, else the one live
    (not DELETED) vGPU of ``project_id`` with that name; 404 for none, 409 for several.

    Names are not unique, so a name is looked up in the caller's own project only,
    the list ``openstack accelerator vgpu list`` shows."""
    if base.is_uuid(ident):
        return ident
    rows = context.session.connection().execute(
        sa.select(_V.uuid).where(_V.name == ident, _V.project_id == project_id,
                                 _V.state != DELETED).limit(2)).all()
    if not rows:
        raise exception.NotFound(kind='vGPU', ident=ident)
    if len(rows) > 1:
        raise exception.Conflict(reason='more than one vGPU is named %r; use its UUID' % ident)
    return rows[0][0]


@db_api.reader
def get_vgpu(context, uuid: str, project_id=None) -> dict:
    if project_id is None:
        row = context.session.connection().execute(_ONE, {'b_uuid': uuid}).first()
    else:
        row = context.session.connection().execute(
            _ONE_OWN, {'b_uuid': uuid, 'b_project': project_id}).first()
    if row is None:
        raise exception.NotFound(kind='vGPU', ident=uuid)
    return _with_slices(context.session, [row])[0]


def _many(session, uuids, state=None) -> list[dict]:
    if state:
        rows = session.connection().execute(
            _MANY_IN_STATE, {'b_uuids': list(uuids), 'b_state': state}).all()
    else:
        rows = session.connection().execute(_MANY, {'b_uuids': list(uuids)}).all()
    return _with_slices(session, rows)


@db_api.reader
def get_vgpus(context, uuids, state=None) -> list[dict]:
    """The vGPUs among ``uuids`` (in ``state`` if given); missing ones are skipped."""
    return _many(context.session, uuids, state) if uuids else []


# Each slice of a claim finds its device id in its own INSERT.
_INSERT_VGPU = sa.insert(_V)
_INSERT_SLICE = sa.insert(_S).from_select(
    ['vgpu_id', 'idx', 'device_id', 'compute_milli', 'memory_mb', 'created_at', 'updated_at'],
    sa.select(sa.bindparam('b_vgpu_id'), sa.bindparam('b_idx'), _D.id,
              sa.bindparam('b_compute'), sa.bindparam('b_memory'),
              sa.bindparam('now', type_=sa.DateTime), sa.bindparam('now', type_=sa.DateTime))
    .where(_D.uuid == sa.bindparam('b_device')))
_TAKE = (
    sa.update(_D).where(_D.uuid == sa.bindparam('b_device'),
                        _D.generation == sa.bindparam('b_generation'),
                        _D.health == 'healthy',
                        _D.compute_used + sa.bindparam('b_compute') <= _D.compute_total,
                        _D.memory_used + sa.bindparam('b_memory') <= _D.memory_mb)
    .values(compute_used=_D.compute_used + sa.bindparam('b_compute'),
            memory_used=_D.memory_used + sa.bindparam('b_memory'),
            generation=_D.generation + 1)
    .execution_options(synchronize_session=False))
_RELEASE_REQUEST = (sa.update(_V).where(_V.uuid == sa.bindparam('b_uuid'), _V.state != DELETED)
                    .values(state=RELEASING, state_reason='', conductor=None)
                    .execution_options(synchronize_session=False))
_RELEASE_REQUEST_OWN = _RELEASE_REQUEST.where(_V.project_id == sa.bindparam('b_project'))
_BEGIN_PREPARE = (sa.update(_V).where(_V.uuid.in_(sa.bindparam('b_uuids', expanding=True)),
                                      _V.state.in_((SCHEDULED, PREPARING)))
                  .values(state=PREPARING, state_reason='',
                          conductor=sa.bindparam('b_conductor')))
# A remote vGPU gets its lease id with its first prepare (a move gives a new one).
_GIVE_LEASE_IDS = (sa.update(_V).where(_V.uuid == sa.bindparam('b_uuid'), _V.lease_id.is_(None))
                   .values(lease_id=sa.bindparam('b_lease_id')))
_ACTIVATE = (sa.update(_V).where(_V.uuid == sa.bindparam('b_uuid'), _V.state == PREPARING)
             .values(state=ACTIVE, state_reason='', attachment=sa.bindparam('b_attachment'),
                     conductor=None))
# free_capacities: lock the rows, sum their slices per device, give back, mark.
_LOCK_MANY = (sa.select(_V.id, _V.uuid, _V.holds_capacity)
              .where(_V.uuid.in_(sa.bindparam('b_uuids', expanding=True)))
              .order_by(_V.id).with_for_update())
_HELD_PER_DEVICE = (sa.select(_S.device_id, _D.uuid, sa.func.sum(_S.compute_milli),
                              sa.func.sum(_S.memory_mb))
                    .join(_D, _D.id == _S.device_id)
                    .where(_S.vgpu_id.in_(sa.bindparam('b_ids', expanding=True)))
                    .group_by(_S.device_id, _D.uuid))
_GIVE_BACK = (sa.update(_D).where(_D.id == sa.bindparam('b_device_id'))
              .values(compute_used=_D.compute_used - sa.bindparam('b_compute'),
                      memory_used=_D.memory_used - sa.bindparam('b_memory'),
                      generation=_D.generation + 1))
_MARK_FREED = (sa.update(_V).where(_V.id.in_(sa.bindparam('b_ids', expanding=True)))
               .values(holds_capacity=False, state=sa.bindparam('b_state')))
_MARK_FREED_WITH_REASON = _MARK_FREED.values(state_reason=sa.bindparam('b_reason'))


# NOTE: InnoDB may pick any of these writers as a deadlock victim (a claim, a
# DELETE, or the conductor's batches, which lock many vGPU rows at once); the
# whole transaction is retried, which is safe because it either committed
# entirely or not at all.
_retried = oslo_db_api.wrap_db_retry(max_retries=5, retry_on_deadlock=True,
                                    retry_interval=0.05, inc_retry_interval=True)


def _row(spec: dict, state: str, reason: str, holds_capacity: bool) -> dict:
    """The vgpus row of a new vGPU for ``spec`` (validated, internal units)."""
    consumer = spec.get('consumer') or {}
    now = timeutils.utcnow()
    return dict(
        uuid=spec.get('uuid') or uuidutils.generate_uuid(), name=spec.get('name') or '',
        project_id=spec['project_id'], user_id=spec.get('user_id') or '', state=state,
        state_reason=reason, profile=spec.get('profile'), compute_milli=spec['compute_milli'],
        memory_mb=spec['memory_mb'], count=spec.get('count', 1),
        models=base.dumps(spec.get('models') or []), locality=spec['locality'],
        isolation=spec.get('isolation'), link=spec.get('link'), cyborg_arq=spec.get('cyborg_arq'),
        consumer_platform=consumer.get('platform'),
        consumer_host=consumer.get('host'), consumer_id=consumer.get('id'),
        attachment=(base.dumps({LOCATION: spec['consumer_location']})
                    if spec.get('consumer_location') else None),
        holds_capacity=holds_capacity, created_at=now, updated_at=now)


@db_api.writer
def record_unheld(context, spec: dict, reason: str) -> dict:
    """Insert a vGPU in ERROR that holds no capacity and no quota: a record, not a claim.

    The Cyborg reconciler keeps one for an ARQ that Cyborg bound but the pool
    could not back (pooling.cyborg.reconciler); quota usage counts only vGPUs
    that hold capacity.
    """
    values = _row(spec, ERROR, reason, holds_capacity=False)
    context.session.connection().execute(_INSERT_VGPU, values)
    return _to_dict(values, [])


@_retried
@db_api.writer
def create_claimed(context, spec: dict, placement) -> dict:
    """Insert a SCHEDULED vGPU holding ``placement``'s slices, atomically.

    :param spec: the validated request (internal units).
    :param placement: a pooling.scheduler Placement.
    :raises GenerationConflict: a device changed since the decision (retry).
    :raises QuotaExceeded: the project's quota does not allow it.
    """
    session = context.session
    count = spec.get('count', 1)
    quota_obj.consume(session, spec['project_id'], 1, spec['memory_mb'] * count,
                      spec['compute_milli'] * count)
    # Lock order everywhere: the project's quota row, then devices by uuid.
    for assignment in sorted(placement.slices, key=lambda a: a.device_uuid):
        _take(session, assignment)
    values = _row(spec, SCHEDULED, '', holds_capacity=True)
    now = values['created_at']
    conn = session.connection()
    vgpu_id = conn.execute(_INSERT_VGPU, values).inserted_primary_key[0]
    for idx, assignment in enumerate(placement.slices):
        conn.execute(_INSERT_SLICE, {
            'b_vgpu_id': vgpu_id, 'b_idx': idx, 'b_device': assignment.device_uuid,
            'b_compute': assignment.compute_milli, 'b_memory': assignment.memory_mb,
            'now': now})
    # The slices as _slices() would read them back: _take only takes from healthy devices.
    slices = [{'index': idx, 'host': placement.host, 'device_uuid': a.device_uuid,
               'compute_milli': a.compute_milli, 'memory_mb': a.memory_mb,
               'device_health': 'healthy'} for idx, a in enumerate(placement.slices)]
    return _to_dict(values, slices)


def _take(session, assignment) -> None:
    """Take one slice's capacity from its device.

    The UPDATE is a compare-and-swap on the device generation, with a capacity
    guard besides. When the decision was made on an older generation (another
    API worker claimed on that device since), the row is read under lock and
    the slice is taken anyway if it still fits, swapping against the fresh
    generation: the decision stays valid, and workers whose policies favour
    the same card would otherwise refuse each other's claims (BUG-6).

    :raises GenerationConflict: the slice no longer fits on the device.
    """
    generation = assignment.generation
    for _ in range(2):
        result = session.connection().execute(_TAKE, {
            'b_device': assignment.device_uuid, 'b_generation': generation,
            'b_compute': assignment.compute_milli, 'b_memory': assignment.memory_mb})
        if result.rowcount == 1:
            return
        current = session.execute(
            sa.select(_D.generation).where(_D.uuid == assignment.device_uuid)
            .with_for_update()).scalar()
        if current is None or current == generation:
            break  # gone, unhealthy or full at the generation we hold: it does not fit
        generation = current
    raise exception.GenerationConflict(uuid=assignment.device_uuid)


@_retried
@db_api.writer
def adopt(context, uuid: str, expected_name: str, spec: dict) -> bool:
    """Hand a live vGPU named ``expected_name`` over to ``spec``'s name, project, consumer
    and Cyborg ARQ.

    A compare-and-swap on the name, so two adopters never get the same vGPU;
    its slices, state and attachment stay (pooling.cyborg.holds).
    """
    consumer = spec.get('consumer') or {}
    result = context.session.connection().execute(
        sa.update(_V).where(_V.uuid == uuid, _V.name == expected_name,
                            _V.holds_capacity.is_(True),
                            _V.state.in_((SCHEDULED, PREPARING, ACTIVE)))
        .values(name=spec['name'], project_id=spec['project_id'],
                user_id=spec.get('user_id') or '', consumer_platform=consumer.get('platform'),
                consumer_host=consumer.get('host'), consumer_id=consumer.get('id'),
                cyborg_arq=spec.get('cyborg_arq')))
    return result.rowcount == 1


@db_api.writer
def link_arq(context, uuid: str, arq_uuid: str) -> bool:
    """Record the Cyborg ARQ of a vGPU made before migration 0007 (the link was its name)."""
    return context.session.connection().execute(
        sa.update(_V).where(_V.uuid == uuid, _V.cyborg_arq.is_(None))
        .values(cyborg_arq=arq_uuid)).rowcount == 1


@db_api.writer
def rename(context, uuid: str, expected_name: str, name: str) -> bool:
    """Rename a vGPU still named ``expected_name`` (a compare-and-swap on the name)."""
    return context.session.connection().execute(
        sa.update(_V).where(_V.uuid == uuid, _V.name == expected_name, _V.state != DELETED)
        .values(name=name)).rowcount == 1


@_retried
@db_api.writer
def begin_prepare(context, uuids, conductor=None, remote=None) -> list[dict]:
    """SCHEDULED (or a re-driven PREPARING) → PREPARING for ``uuids``, in one transaction.

    Stamps ``conductor`` as the one driving them (pooling.objects.work) and
    gives each vGPU ``remote(vgpu)`` finds remote a lease id if it has none.
    Returns the vGPUs that are now PREPARING; the rest were deleted or failed
    meanwhile and are left alone.
    """
    if not uuids:
        return []
    conn = context.session.connection()
    conn.execute(_BEGIN_PREPARE, {'b_uuids': list(uuids), 'b_conductor': conductor})
    vgpus = _many(context.session, uuids, PREPARING)
    for vgpu in vgpus:
        if remote is not None and remote(vgpu) and not vgpu['lease']:
            lease_id = uuidutils.generate_uuid()
            conn.execute(_GIVE_LEASE_IDS, {'b_uuid': vgpu['uuid'], 'b_lease_id': lease_id})
            vgpu['lease'] = {'lease_id': lease_id, 'expires_at': None}
    return vgpus


@_retried
@db_api.writer
def activate(context, attachments: dict) -> list[str]:
    """PREPARING → ACTIVE with each vGPU's attachment (``{uuid: attachment}``).

    Returns the uuids that went ACTIVE; one that is not PREPARING any more was
    deleted while its slices were prepared, and the caller releases it.
    """
    conn = context.session.connection()
    return [uuid for uuid in sorted(attachments)
            if conn.execute(_ACTIVATE, {'b_uuid': uuid,
                                        'b_attachment': base.dumps(attachments[uuid])}
                            ).rowcount == 1]


@db_api.writer
def set_state(context, uuid: str, state: str, reason: str = '', attachment=None,
              expected: tuple | None = None) -> bool:
    """Move a vGPU to ``state``; with ``expected``, only from one of those states."""
    values = {'state': state, 'state_reason': reason}
    if attachment is not None:
        values['attachment'] = base.dumps(attachment)
    query = sa.update(models.VGPU).where(models.VGPU.uuid == uuid)
    if expected:
        query = query.where(models.VGPU.state.in_(expected))
    return context.session.execute(query.values(**values)).rowcount == 1


@_retried
@db_api.writer
def request_delete(context, uuid: str, project_id=None) -> str:
    """DELETE: move to RELEASING (idempotent while releasing); returns the uuid.

    One UPDATE; no row matched (gone, deleted, another project's) is a 404.
    """
    if project_id is None:
        result = context.session.connection().execute(_RELEASE_REQUEST, {'b_uuid': uuid})
    else:
        result = context.session.connection().execute(
            _RELEASE_REQUEST_OWN, {'b_uuid': uuid, 'b_project': project_id})
    if result.rowcount != 1:
        raise exception.NotFound(kind='vGPU', ident=uuid)
    return uuid


def free_capacity(context, uuid: str, final_state: str, reason: str = '') -> bool:
    """Give back one vGPU's capacity and set ``final_state`` (see free_capacities)."""
    return bool(free_capacities(context, [uuid], final_state, reason))


@_retried
@db_api.writer
def free_capacities(context, uuids, final_state: str, reason: str = '') -> list[str]:
    """Give back the vGPUs' device capacity, once, and set ``final_state``; one transaction.

    Returns the uuids whose capacity this call freed (the others held nothing
    any more: another pass freed it). Batching matters under load: a release
    storm costs one transaction, and one UPDATE per touched device.
    """
    conn = context.session.connection()
    rows = conn.execute(_LOCK_MANY, {'b_uuids': list(uuids)}).all()
    holding = [r for r in rows if r.holds_capacity]
    if holding:
        deltas = conn.execute(_HELD_PER_DEVICE, {'b_ids': [r.id for r in holding]}).all()
        # Devices in uuid order, as a claim takes them (BUG-4).
        for device_id, _uuid, compute, memory in sorted(deltas, key=lambda d: d[1]):
            conn.execute(_GIVE_BACK, {'b_device_id': device_id, 'b_compute': int(compute),
                                      'b_memory': int(memory)})
    if rows:
        ids = [r.id for r in rows]
        if reason or final_state != ERROR:
            conn.execute(_MARK_FREED_WITH_REASON,
                         {'b_ids': ids, 'b_state': final_state, 'b_reason': reason})
        else:
            conn.execute(_MARK_FREED, {'b_ids': ids, 'b_state': final_state})
    return [r.uuid for r in holding]


@db_api.reader
def stuck(context, states, older_than_seconds: int) -> list[str]:
    """uuids of vGPUs sitting in ``states`` for longer than the given seconds."""
    cutoff = timeutils.utcnow() - datetime.timedelta(seconds=older_than_seconds)
    return list(context.session.scalars(
        sa.select(models.VGPU.uuid).where(models.VGPU.state.in_(states),
                                          models.VGPU.updated_at < cutoff)))


@db_api.reader
def leaked(context) -> list[str]:
    """uuids of vGPUs in ERROR that still hold capacity (the reconciler frees them)."""
    return list(context.session.scalars(
        sa.select(models.VGPU.uuid).where(models.VGPU.state == ERROR,
                                          models.VGPU.holds_capacity.is_(True))))


# The demand the schedulers and /v1/usage look at: the most recent vGPUs only,
# so that an API worker's model reload reads a bounded slice of the table
# (DELETED rows stay for history) and old habits fade out.
RECENT_VGPUS = 10000


@db_api.reader
def shapes_requested(context, limit: int = 3, with_counts=False) -> list[tuple]:
    """The most common (compute_milli, memory_mb, count) shapes of the recent vGPUs.

    With ``with_counts`` each tuple ends with how often it was asked for.
    """
    v = models.VGPU
    recent = (sa.select(v.compute_milli, v.memory_mb, v.count)
              .order_by(v.id.desc()).limit(RECENT_VGPUS).subquery())
    rows = context.session.execute(
        sa.select(recent.c.compute_milli, recent.c.memory_mb, recent.c.count,
                  sa.func.count().label('n'))
        .group_by(recent.c.compute_milli, recent.c.memory_mb, recent.c.count)
        .order_by(sa.desc('n'), recent.c.compute_milli, recent.c.memory_mb, recent.c.count)
        .limit(limit)).all()
    return [tuple(row) if with_counts else tuple(row[:3]) for row in rows]
