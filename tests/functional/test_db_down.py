"""The database going away gives 503 + Retry-After, and the API recovers by itself.

Before (issue 13, item 3) every request answered 500 ``pooling.internal``
while MariaDB was down; ``test_database_down_is_503_with_retry_after``
failed on the status then.
"""

import time
import urllib.parse

from oslo_db import exception as db_exc
import pytest

from pooling.db import api as db_api
from pooling.db import migration
from pooling_api import app
from tests.functional import fixtures
from tests.functional import tcpproxy


@pytest.fixture
def api_via_proxy(mysql_db, request):
    url = urllib.parse.urlsplit(mysql_db.url)
    proxy = tcpproxy.Proxy(url.hostname, url.port or 3306)
    port = proxy.start()
    proxied = mysql_db.url.replace(url.netloc, '%s@127.0.0.1:%d' % (url.username, port))
    conf = fixtures.make_conf(proxied, 'fake:/')
    # NOTE: no reconnect attempts at engine start, so a cut shows at once.
    conf.set_override('max_retries', 0, group='database')
    for key, value in getattr(request, 'param', {}).items():
        conf.set_override(key, value, group='database')
    old = db_api.context_manager._factory
    db_api.configure(conf)
    migration.upgrade()
    yield fixtures.Client(app.build(conf)), proxy
    db_api.get_engine().dispose()
    db_api.context_manager.patch_factory(old)
    proxy.cut()


def test_database_down_is_503_with_retry_after(api_via_proxy):
    client, proxy = api_via_proxy
    assert client.get('/v1/pools').status_int == 200
    proxy.cut()
    for path in ('/v1/pools', '/v1/vgpus', '/v1/profiles'):
        resp = client.get(path)
        assert resp.status_int == 503, resp.text
        assert resp.headers['Retry-After'] == '5'
        (error,) = resp.json['errors']
        assert error['code'] == 'pooling.service_unavailable'
        assert 'database' in error['detail']
    resp = client.post('/v1/pools', {'name': 'while-down'})
    assert resp.status_int == 503
    proxy.restore()
    deadline = time.monotonic() + 10
    while client.get('/v1/pools').status_int != 200:
        assert time.monotonic() < deadline, 'the API did not recover within 10 s'
        time.sleep(0.2)
    assert 'while-down' not in [p['name'] for p in client.get('/v1/pools').json['pools']]


def test_other_database_errors_stay_500(api_via_proxy, monkeypatch):
    """Only an unreachable database is retryable; a real fault is still a 500."""
    client, _ = api_via_proxy
    from pooling.objects import pool as pool_obj

    def broken(ctx):
        raise db_exc.DBError('syntax error')

    monkeypatch.setattr(pool_obj, 'list_pools', broken)
    resp = client.get('/v1/pools')
    assert resp.status_int == 500 and 'Retry-After' not in resp.headers


@pytest.mark.parametrize('api_via_proxy', [{'use_db_reconnect': True, 'db_retry_interval': 1,
                                            'db_inc_retry_interval': False}], indirect=True)
def test_use_db_reconnect_rides_out_a_short_outage(api_via_proxy):
    """[database] use_db_reconnect and db_retry_interval reach our transactions.

    Before, they were ignored (no DB API layer read them): the request got a
    503 (or a 500 before that) whatever the option said.
    """
    import threading

    client, proxy = api_via_proxy
    assert client.get('/v1/pools').status_int == 200
    proxy.cut()
    threading.Timer(1.5, proxy.restore).start()
    started = time.monotonic()
    resp = client.get('/v1/pools')
    assert resp.status_int == 200, resp.text
    assert 1.0 < time.monotonic() - started < 10
