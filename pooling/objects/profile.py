"""Profiles: named vGPU shapes an operator publishes (and Cyborg mirrors)."""

from oslo_db import exception as db_exc
from oslo_utils import uuidutils
import sqlalchemy as sa

from pooling import exception
from pooling.db import api as db_api
from pooling.db import models
from pooling.objects import base
from pooling.objects import vgpu as vgpu_obj


def _to_dict(row) -> dict:
    return {'uuid': row.uuid, 'name': row.name, 'compute_milli': row.compute_milli,
            'memory_mb': row.memory_mb, 'count': row.count,
            'models': base.loads(row.models, []), 'isolation': row.isolation,
            'locality': row.locality, 'description': row.description, 'link': row.link,
            **base.timestamps(row)}


def _find(session, ident):
    row = session.scalars(sa.select(models.Profile).where(
        base.ident_clause(models.Profile, ident))).first()
    if row is None:
        raise exception.NotFound(kind='Profile', ident=ident)
    return row


@db_api.reader
def list_profiles(context) -> list[dict]:
    rows = context.session.scalars(sa.select(models.Profile).order_by(models.Profile.name))
    return [_to_dict(r) for r in rows]


@db_api.reader
def get_profile(context, ident: str) -> dict:
    return _to_dict(_find(context.session, ident))


@db_api.writer
def create_profile(context, name, compute_milli, memory_mb, count=1, models_=None,
                   isolation=None, locality='remote-allowed', description='',
                   link=None) -> dict:
    row = models.Profile(uuid=uuidutils.generate_uuid(), name=name,
                         compute_milli=compute_milli, memory_mb=memory_mb, count=count,
                         models=base.dumps(sorted(models_ or [])), isolation=isolation,
                         locality=locality, description=description, link=link)
    try:
        context.session.add(row)
        context.session.flush()
    except db_exc.DBDuplicateEntry:
        raise exception.Duplicate(kind='Profile', ident=name) from None
    return _to_dict(row)


@db_api.writer
def delete_profile(context, ident: str) -> None:
    row = _find(context.session, ident)
    # NOTE: vGPUs the pool holds for Nova (pooling.cyborg.holds) do not keep a
    # profile: the next Cyborg sync pass gives them back once it is gone.
    in_use = context.session.scalar(
        sa.select(sa.func.count(models.VGPU.id))
        .where(models.VGPU.profile == row.name, models.VGPU.state != 'DELETED',
               models.VGPU.project_id != vgpu_obj.HOLD_PROJECT))
    if in_use:
        raise exception.InUse(kind='Profile', ident=ident,
                              reason='%d vGPU(s) were created from it' % in_use)
    context.session.delete(row)
