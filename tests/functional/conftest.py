"""pytest fixtures for functional tests on real MariaDB, PostgreSQL and RabbitMQ."""

import pytest

from tests.functional import fixtures

HOSTS = [
    ('gpu-a', 'fab-1', 'nvidia:A100-SXM4-80GB:81920:108:2'),
    ('gpu-b', 'fab-1', 'nvidia:H100-SXM5-80GB:81920:132:1,ascend:Ascend910B:65536:20:1'),
    ('gpu-c', 'fab-2', 'nvidia:A100-SXM4-80GB:81920:108:1'),
    ('cpu-1', 'fab-1', ''),
]


def _database(backend):
    db = fixtures.Database(backend)
    db.create()
    return db


@pytest.fixture(params=['mysql', 'postgresql', 'sqlite'])
def any_db(request):
    db = _database(request.param)
    yield db
    db.drop()


@pytest.fixture
def mysql_db():
    db = _database('mysql')
    yield db
    db.drop()


@pytest.fixture
def stack(mysql_db):
    """A whole pool on MariaDB and RabbitMQ: conductor, four agents, the API."""
    s = fixtures.Stack(mysql_db.url, HOSTS).start()
    yield s
    s.stop()
