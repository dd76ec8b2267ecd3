"""Who drives which vGPU, and expired credentials, on MariaDB, PostgreSQL and SQLite."""

import datetime

from oslo_utils import timeutils
import pytest
import sqlalchemy as sa

from pooling import context as pooling_context
from pooling.db import api as db_api
from pooling.db import migration
from pooling.db import models
from pooling.objects import lease as lease_obj
from pooling.objects import work


@pytest.fixture
def ctx(any_db):
    restore = db_api.use_connection(any_db.url)
    migration.upgrade()
    yield pooling_context.get_admin_context()
    db_api.get_engine().dispose()
    restore()


def _vgpu(uuid, state, conductor=None, age=0, expires_in=None):
    now = timeutils.utcnow()
    when = now - datetime.timedelta(seconds=age)
    row = dict(uuid=uuid, name='', project_id='p', user_id='', state=state, state_reason='',
               compute_milli=100, memory_mb=1, count=1, models='[]', locality='remote-allowed',
               holds_capacity=True, conductor=conductor, created_at=when, updated_at=when)
    if expires_in is not None:
        row.update(lease_id='l-' + uuid, lease_token_sha256='a' * 64,
                   lease_expires_at=now + datetime.timedelta(seconds=expires_in))
    with db_api.get_engine().begin() as conn:
        conn.execute(sa.insert(models.VGPU), row)


def _beat(name, age):
    with db_api.get_engine().begin() as conn:
        conn.execute(sa.insert(models.Conductor), dict(
            name=name, last_seen=timeutils.utcnow() - datetime.timedelta(seconds=age)))


def test_the_work_of_dead_conductors_and_of_nobody_is_taken_over(ctx):
    _beat('alive', 1)
    _beat('dead', 60)
    _vgpu('by-alive', 'PREPARING', 'alive', age=60)
    _vgpu('by-dead', 'PREPARING', 'dead', age=1)
    _vgpu('by-me', 'PREPARING', 'me', age=60)
    _vgpu('by-gone', 'RELEASING', 'never-beat', age=1)
    _vgpu('fresh-cast', 'SCHEDULED', None, age=1)
    _vgpu('lost-cast', 'SCHEDULED', None, age=60)
    _vgpu('lost-delete', 'RELEASING', None, age=60)
    _vgpu('done', 'ACTIVE', 'dead', age=60)
    prepare, release = work.orphaned(ctx, 'me', 6)
    assert sorted(prepare) == ['by-dead', 'lost-cast']
    assert sorted(release) == ['by-gone', 'lost-delete']
    work.heartbeat(ctx, 'dead')  # it came back
    assert sorted(work.orphaned(ctx, 'me', 6)[0]) == ['lost-cast']
    work.forget(ctx, 'alive')  # a clean stop hands its work over at once
    assert 'by-alive' in work.orphaned(ctx, 'me', 6)[0]


def test_expired_credentials_are_found_and_cleared(ctx):
    _vgpu('live', 'ACTIVE', expires_in=600)
    _vgpu('old', 'ACTIVE', expires_in=-5)
    _vgpu('gone', 'DELETED', expires_in=-5)
    assert lease_obj.expired(ctx) == ['old']
    lease_obj.clear_expired(ctx, ['old', 'live'])
    with db_api.get_engine().connect() as conn:
        rows = dict(conn.execute(sa.select(models.VGPU.uuid,
                                           models.VGPU.lease_token_sha256)).all())
    assert rows['old'] is None and rows['live'] == 'a' * 64
    assert lease_obj.expired(ctx) == []
