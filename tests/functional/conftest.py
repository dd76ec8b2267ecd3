"""pytest fixtures for functional tests on real MariaDB, PostgreSQL and RabbitMQ."""

import os

import pytest

from bench import api_load_services as services
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


@pytest.fixture(scope='module')
def api_url(request, tmp_path_factory):
    """A running pooling-api (its own processes, one per test module, on a fresh MariaDB
    database), or $POOLING_API_URL."""
    if os.environ.get('POOLING_API_URL'):
        yield os.environ['POOLING_API_URL']
        return
    work = tmp_path_factory.mktemp(request.module.__name__.rsplit('.', 1)[-1])
    with services.pooling_stack(work, devices=4, hosts=2, consumer_host=True) as url:
        yield url
