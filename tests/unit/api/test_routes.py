"""The route table: matching, 404 and 405 with Allow, JSON errors."""

import json

import webob

from pooling_api.controllers import root


def test_match_extracts_parameters():
    assert root.match('/v1/vgpus/abc') == ('/v1/vgpus/{ident}', {'ident': 'abc'})
    assert root.match('/v1/vgpus/') == ('/v1/vgpus', {})
    assert root.match('/v1/vgpus/a/b') == (None, None)


def _call(method, path):
    req = webob.Request.blank(path, method=method)
    resp = root.dispatch(req)
    return resp, json.loads(resp.text)


def test_unknown_path_is_json_404():
    resp, body = _call('GET', '/v2/everything')
    assert resp.status_int == 404
    assert body['errors'][0]['code'] == 'pooling.not_found'


def test_wrong_method_is_405_with_allow():
    resp, body = _call('PUT', '/v1/vgpus')
    assert resp.status_int == 405
    assert resp.headers['Allow'] == 'GET, POST'
    assert 'allowed: GET, POST' in body['errors'][0]['detail']


def test_route_newer_than_the_request_is_404_before_its_handler():
    # The route table's MIN_VERSIONS gates before policy and the handler run (a blank
    # request has no context: a handler reached would fail with a 500, not a 404).
    for (path, method), version in root.MIN_VERSIONS.items():
        resp, body = _call(method, path.replace('{ident}', 'abc'))
        assert resp.status_int == 404, (path, method)
        assert 'needs microversion %s' % version in body['errors'][0]['detail']
