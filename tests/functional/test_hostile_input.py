"""Hostile request bodies: each gets a short JSON 4xx and changes nothing (issue 13).

Before: 10,000-deep JSON was a 500 HTML page (pecan parsed the body outside
our error handling), a 50 MB body was read whole and its bad value echoed in
a 52 MB 400, NaN and Infinity were accepted as numbers. test_nested_json,
test_oversize_* and test_bad_value_is_quoted_short failed then.
Slow bodies are in test_slow_bodies.py (real sockets, real servers).
"""

import io
import json

import pytest
import webob

from tests.functional import conftest
from tests.functional import fixtures


@pytest.fixture(scope='module')
def api():
    db = fixtures.Database('mysql')
    db.create()
    stack = fixtures.Stack(db.url, conftest.HOSTS[:1],
                           overrides={('oslo_middleware', 'max_request_body_size'): 65536}
                           ).start()
    yield stack
    stack.stop()
    db.drop()


def _post(api, path, raw: bytes, **environ):
    req = webob.Request.blank(path, method='POST', headers={
        'Content-Type': 'application/json', 'X-Project-Id': 'p1', 'X-Roles': 'admin'})
    req.body = raw
    req.environ.update(environ)
    resp = req.get_response(api.app)
    fixtures.check_response('POST', path, resp)
    return resp


def _error(resp, status):
    assert resp.status_int == status, resp.text
    assert resp.content_type == 'application/json'
    (error,) = json.loads(resp.body)['errors']
    assert len(resp.body) < 1024, len(resp.body)
    return error


def _unchanged(api):
    return api.client.get('/v1/vgpus?all_projects=true').json, \
        api.client.get('/v1/pools').json


@pytest.mark.parametrize('depth', [33, 1000, 5000])
@pytest.mark.parametrize('path', ['/v1/pools', '/v1/vgpus', '/v1/profiles', '/v1/vendordata'])
def test_nested_json(api, path, depth):
    before = _unchanged(api)
    for raw in (b'[' * depth + b']' * depth,
                b'{"name":' + b'{"a":' * depth + b'1' + b'}' * depth + b'}'):
        error = _error(_post(api, path, raw), 400)
        assert 'nests deeper than 32' in error['detail']
    assert _unchanged(api) == before


@pytest.mark.parametrize('depth', [10000, 30000])
def test_very_deep_arrays(api, depth):
    """Deeper than Python's recursion limit: the parser's RecursionError is a 400 too."""
    error = _error(_post(api, '/v1/vgpus', b'[' * depth + b']' * depth), 400)
    assert 'nests deeper than 32' in error['detail']


def test_shallow_nesting_still_reaches_validation(api):
    error = _error(_post(api, '/v1/pools', b'{"name": [[[1]]]}'), 400)
    assert "is not of type 'string'" in error['detail']


def test_oversize_body_is_refused_before_it_is_read(api):
    """Content-Length over the limit: 413 without reading a byte of the body."""

    class Unreadable(io.RawIOBase):
        def read(self, *args):
            raise AssertionError('the body was read')

    req = webob.Request.blank('/v1/pools', method='POST', headers={
        'Content-Type': 'application/json', 'X-Project-Id': 'p1', 'X-Roles': 'admin'})
    req.environ['wsgi.input'] = Unreadable()
    req.environ['CONTENT_LENGTH'] = str(50 * 1024 * 1024)
    error = _error(req.get_response(api.app), 413)
    assert error['code'] == 'pooling.request_too_large' and '65536' in error['detail']


def test_oversize_chunked_body_is_cut_off(api):
    """No Content-Length (chunked): reading stops just past the limit."""
    read = []

    class Endless(io.RawIOBase):
        def read(self, n=-1):
            n = 4096 if n is None or n < 0 else n
            read.append(n)
            return b' ' * n

    before = _unchanged(api)
    req = webob.Request.blank('/v1/pools', method='POST', headers={
        'Content-Type': 'application/json', 'X-Project-Id': 'p1', 'X-Roles': 'admin'})
    req.environ['wsgi.input'] = Endless()
    req.environ.pop('CONTENT_LENGTH', None)
    req.environ['wsgi.input_terminated'] = True
    error = _error(req.get_response(api.app), 413)
    assert error['code'] == 'pooling.request_too_large'
    assert sum(read) <= 65536 + 65536
    assert _unchanged(api) == before


def test_bad_value_is_quoted_short(api):
    """A 60 kB bad value is not echoed back whole."""
    raw = json.dumps({'name': 'x' * 60000}).encode()
    error = _error(_post(api, '/v1/pools', raw), 400)
    assert 'too long' in error['detail'] and '60002 characters' in error['detail']
    raw = json.dumps({'compute_percent': 'y' * 60000, 'memory_mb': 1}).encode()
    error = _error(_post(api, '/v1/vgpus', raw), 400)
    assert "is not of type 'number'" in error['detail']


@pytest.mark.parametrize('raw', [b'{"name": "\xff\xfe"}', b'\xef\xbb\xbf{"name": "bom"}',
                                 b'{"name": "\xed\xa0\x80"}', b'\x00\x00\x00{'])
def test_non_utf8(api, raw):
    before = _unchanged(api)
    error = _error(_post(api, '/v1/pools', raw), 400)
    assert error['code'] == 'pooling.malformed_json'
    assert _unchanged(api) == before


def test_non_utf8_url(api):
    req = webob.Request.blank('/v1/pools', headers={'X-Project-Id': 'p1', 'X-Roles': 'admin'})
    req.environ['PATH_INFO'] = '/v1/pools/\udcff'.encode('utf-8', 'surrogateescape') \
        .decode('latin-1')
    assert req.get_response(api.app).status_int == 400


@pytest.mark.parametrize('path,raw,words', [
    ('/v1/vgpus', b'{"compute_percent": 10, "memory_mb": 1' + b'0' * 5000 + b'}',
     'not valid JSON'),
    ('/v1/vgpus', b'{"compute_percent": 10, "memory_mb": 99999999999999999999999}',
     'greater than the maximum'),
    ('/v1/vgpus', b'{"compute_percent": 1e400, "memory_mb": 10}',
     'greater than the maximum of 100'),
    ('/v1/vgpus', b'{"compute_percent": NaN, "memory_mb": 10}', 'NaN is not a JSON number'),
    ('/v1/vgpus', b'{"compute_percent": 10, "memory_mb": -Infinity}', 'not a JSON number'),
    ('/v1/profiles', b'{"name": "big", "compute_percent": 10, "memory_mb": 1e308}',
     'greater than the maximum'),
])
def test_huge_numbers(api, path, raw, words):
    before = _unchanged(api)
    error = _error(_post(api, path, raw), 400)
    assert words in error['detail'], error['detail']
    assert _unchanged(api) == before


def test_quota_huge_numbers(api):
    req = webob.Request.blank('/v1/quotas/p1', method='PUT', headers={
        'Content-Type': 'application/json', 'X-Project-Id': 'p1', 'X-Roles': 'admin'})
    for raw in (b'{"quota": {"vgpus": 1' + b'0' * 40 + b'}}',
                b'{"quota": {"compute_percent": Infinity}}',
                b'{"quota": {"memory_mb": 1e999}}'):
        req.body = raw
        assert _error(req.get_response(api.app), 400)['status'] == 400
