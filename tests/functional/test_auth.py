"""Production auth: keystonemiddleware guards everything but version discovery."""

import webob

from pooling_api import app
from tests.functional import fixtures


def test_keystone_strategy_refuses_requests_without_a_token(mysql_db):
    conf = fixtures.make_conf(mysql_db.url, 'fake:/')
    conf.set_override('auth_strategy', 'keystone', group='api')
    conf.set_override('www_authenticate_uri', 'http://127.0.0.1:1/identity',
                      group='keystone_authtoken')
    wsgi = app.build(conf)
    assert webob.Request.blank('/').get_response(wsgi).status_int == 200
    assert webob.Request.blank('/v1').get_response(wsgi).status_int == 200
    for path in ('/v1/pools', '/v1/vgpus', '/v1/devices'):
        resp = webob.Request.blank(path, headers={'X-Project-Id': 'admin',
                                                  'X-Roles': 'admin'}).get_response(wsgi)
        assert resp.status_int == 401, (path, resp.status)
        # The same API-SIG error format as every other error of the API.
        (error,) = resp.json['errors']
        assert error['status'] == 401 and error['code'] == 'pooling.unauthorized'
        assert error['title'] == 'Unauthorized' and 'authentication' in error['detail']
        assert resp.headers['WWW-Authenticate']


def test_keystone_authtoken_options_reach_the_middleware(mysql_db):
    """[keystone_authtoken], registered from keystonemiddleware's public list_opts."""
    conf = fixtures.make_conf(mysql_db.url, 'fake:/')
    conf.set_override('auth_strategy', 'keystone', group='api')
    conf.set_override('www_authenticate_uri', 'http://keystone.example:5000/v3',
                      group='keystone_authtoken')
    resp = webob.Request.blank('/v1/pools').get_response(app.build(conf))
    assert resp.status_int == 401
    assert "uri=\"http://keystone.example:5000/v3\"" in resp.headers['WWW-Authenticate']


def test_messaging_metrics_options_are_registered():
    """oslo.messaging reads [oslo_messaging_metrics] from the ConfigOpts it is given."""
    from oslo_messaging import _metrics

    conf = fixtures.make_conf('sqlite://', 'fake:/')
    assert conf.oslo_messaging_metrics.metrics_enabled is False
    assert _metrics.get_collector(conf) is not None
