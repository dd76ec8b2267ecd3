"""Every ``[database]`` option reaches the engine oslo.db builds (issue 13).

Before: ``pooling.db.api.configure`` passed only ``connection`` and
``max_pool_size``, so ``max_overflow``, ``pool_timeout``, the recycle time,
MySQL's SQL mode, connection parameters and SQLite's synchronous mode were
silently ignored; each assertion below failed then.
"""

import logging

import pytest
import sqlalchemy as sa

from pooling.db import api as db_api
from tests.functional import fixtures


def _engine(url, **options):
    conf = fixtures.make_conf(url, 'fake:/')
    for key, value in options.items():
        conf.set_override(key, value, group='database')
    db_api.configure(conf)
    return db_api.get_engine()


@pytest.fixture
def restore():
    old = db_api.context_manager._factory
    yield
    db_api.get_engine().dispose()
    db_api.context_manager.patch_factory(old)


@pytest.mark.parametrize('backend', ['mysql', 'postgresql'])
def test_pool_options_reach_the_engine(backend, restore):
    db = fixtures.Database(backend)
    db.create()
    try:
        engine = _engine(db.url, max_pool_size=7, max_overflow=3, pool_timeout=11,
                         connection_recycle_time=123)
        assert engine.pool.size() == 7
        assert engine.pool._max_overflow == 3
        assert engine.pool._timeout == 11
        assert engine.pool._recycle == 123
    finally:
        db_api.get_engine().dispose()
        db.drop()


def test_mysql_session_options(mysql_db, restore):
    engine = _engine(mysql_db.url, mysql_sql_mode='TRADITIONAL,ANSI_QUOTES',
                     connection_parameters='read_timeout=17')
    with engine.connect() as conn:
        mode = conn.execute(sa.text('SELECT @@SESSION.sql_mode')).scalar()
    assert 'ANSI_QUOTES' in mode and 'STRICT_ALL_TABLES' in mode
    assert engine.url.query.get('read_timeout') == '17'


def test_postgresql_connection_parameters(restore):
    db = fixtures.Database('postgresql')
    db.create()
    try:
        engine = _engine(db.url, connection_parameters='application_name=pooling-opt-test')
        with engine.connect() as conn:
            assert conn.execute(sa.text('SHOW application_name')).scalar() == \
                'pooling-opt-test'
    finally:
        db_api.get_engine().dispose()
        db.drop()


def test_sqlite_synchronous_and_debug(tmp_path, restore):
    engine = _engine('sqlite:///%s/p.sqlite' % tmp_path, sqlite_synchronous=False,
                     connection_debug=100)
    with engine.connect() as conn:
        assert conn.execute(sa.text('PRAGMA synchronous')).scalar() == 0
    assert logging.getLogger('sqlalchemy.engine').level == logging.DEBUG
    logging.getLogger('sqlalchemy.engine').setLevel(logging.WARNING)


def test_no_database_option_is_refused_by_oslo_db(restore, recwarn):
    """Every option of the group is handed over and none is 'not supported'."""
    _engine('sqlite://')
    assert not [w for w in recwarn if 'not supported' in str(w.message)]
