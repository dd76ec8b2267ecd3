"""Who drives which vGPU, and expired credentials, on MariaDB, PostgreSQL and SQLite."""

import datetime
from unittest import mock

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


def test_a_conductor_restarted_under_its_name_resumes_its_own_work(ctx):
    # [conductor] name fixed: the process that stamped these is the one that died.
    _beat('me', 1)
    _vgpu('mine-prepare', 'PREPARING', 'me', age=1)
    _vgpu('mine-release', 'RELEASING', 'me', age=1)
    _vgpu('mine-done', 'ACTIVE', 'me', age=1)
    assert work.orphaned(ctx, 'me', 6) == ([], [])
    assert work.orphaned(ctx, 'me', 6, mine=True) == (['mine-prepare'], ['mine-release'])


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


def test_a_restarted_conductor_marks_no_host_down_for_its_first_host_down_after(ctx, any_db):
    # Agents report to the conductors: the silence of the time no conductor ran is not the
    # host's. Before the fix a conductor restarted after 5 s marked every host down at once.
    from pooling.conductor import manager
    from pooling.objects import host as host_obj
    from tests.functional import fixtures

    host_obj.report(ctx, 'quiet', 'default', None, 0, 0, [])
    with db_api.get_engine().begin() as conn:
        conn.execute(sa.update(models.Host).values(
            last_heartbeat=timeutils.utcnow() - datetime.timedelta(seconds=30)))
    conf = fixtures.make_conf(any_db.url, 'fake://',
                              overrides={('conductor', 'host_down_after'): 10})
    conductor = manager.ConductorManager(conf, agents=object())
    conductor.check_hosts()
    assert host_obj.down_hosts(ctx) == set()
    conductor._hearing_since -= 10  # it has run for host_down_after: the silence is the host's
    # ...unless it could not write what the hosts reported (the database was down).
    with mock.patch.object(host_obj, 'report', side_effect=RuntimeError('db down')):
        with pytest.raises(RuntimeError):
            conductor.report(ctx, {'name': 'quiet'}, [])
    conductor.check_hosts()
    assert host_obj.down_hosts(ctx) == set()
    conductor._hearing_since -= 10
    conductor.check_hosts()
    assert host_obj.down_hosts(ctx) == {'quiet'}
