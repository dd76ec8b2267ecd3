"""One conductor runs the Cyborg sync: the database session lock on every backend."""

import time

import pytest

from pooling.cyborg import leader
from pooling.db import api as db_api


@pytest.fixture
def engine(any_db):
    restore = db_api.use_connection(any_db.url)
    yield db_api.get_engine()
    db_api.get_engine().dispose()
    restore()


def _eventually(fn, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not fn():
        assert time.monotonic() < deadline, 'timed out'
        time.sleep(0.1)


def _kill_holder(engine, backend):
    """What the server sees when the holding conductor dies: its connection goes."""
    import sqlalchemy as sa

    with engine.connect() as conn:
        if backend == 'mysql':
            holder = conn.execute(sa.text('SELECT IS_USED_LOCK(:n)'),
                                  {'n': leader.lock_name(engine).decode()}).scalar()
            conn.execute(sa.text('KILL %d' % holder))
        else:
            conn.execute(sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                'AND pid <> pg_backend_pid() AND database = (SELECT oid FROM pg_database '
                'WHERE datname = current_database())'))
        conn.commit()


def test_one_holder_and_a_takeover_when_it_goes(engine, any_db):
    first, second = leader.Leader(engine), leader.Leader(engine)
    assert first.held()
    # tooz's drivers, not a lock of our own (issue 13)
    assert type(first._lock).__module__.startswith('tooz.drivers.')
    if any_db.backend == 'sqlite':  # the all-in-one: tooz's file lock, one process
        assert type(first._lock).__module__ == 'tooz.drivers.file'
        return
    assert not second.held()
    assert first.held() and not second.held()  # still the same holder, pass after pass
    # The holder dies (its connection closes): the server drops the lock.
    _kill_holder(engine, any_db.backend)
    _eventually(second.held)
    assert not first.held()
    # A stopping holder gives it back at once.
    second.release()
    assert first.held() and not second.held()
    first.release()


def test_lock_is_per_database(any_db):
    if any_db.backend == 'sqlite':
        pytest.skip('no server lock on SQLite')
    from tests.functional import fixtures

    other = fixtures.Database(any_db.backend)
    other.create()
    restore = db_api.use_connection(any_db.url)
    try:
        here = leader.Leader(db_api.get_engine())
        assert here.held()
        restore_other = db_api.use_connection(other.url)
        try:
            there = leader.Leader(db_api.get_engine())
            assert there.held()  # another pool on the same server is not blocked
            there.release()
        finally:
            db_api.get_engine().dispose()
            restore_other()
        here.release()
    finally:
        db_api.get_engine().dispose()
        restore()
        other.drop()


def test_a_pass_runs_only_in_the_holder(mysql_db):
    from pooling import conf as pooling_conf
    from pooling import context
    from pooling.cyborg import sync
    from pooling.db import migration

    restore = db_api.use_connection(mysql_db.url)
    try:
        migration.upgrade()
        other_conductor = leader.Leader(db_api.get_engine())
        assert other_conductor.held()
        conf = pooling_conf.new_conf([])
        conf.set_override('enabled', True, group='cyborg')

        class Nothing:
            def __getattr__(self, name):
                def called(*args, **kwargs):
                    raise AssertionError('%s called by a conductor without the lock' % name)

                return called

        out = sync.run_once(context.get_admin_context(), conf, conductor=Nothing(),
                            cyborg=Nothing(), claimer=Nothing(), placement=Nothing())
        assert out == {'skipped': 'another pooling-conductor runs the Cyborg sync'}
        other_conductor.release()
    finally:
        db_api.get_engine().dispose()
        restore()


def test_a_stopping_conductor_hands_the_sync_over(mysql_db):
    from pooling import conf as pooling_conf
    from pooling.cyborg import sync

    restore = db_api.use_connection(mysql_db.url)
    try:
        conf = pooling_conf.new_conf([])
        mine = sync._cached(conf, 'leader', leader.Leader)
        other = leader.Leader(db_api.get_engine())
        assert mine.held() and not other.held()
        sync.stop(conf)
        assert other.held()
        other.release()
    finally:
        db_api.get_engine().dispose()
        restore()
