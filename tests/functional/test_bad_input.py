"""Bad input gets a 4xx with a message on every endpoint, and changes nothing."""

import pytest

from pooling_api import microversion
from tests.functional import conftest
from tests.functional import fixtures

VGPU = {'compute_percent': 10, 'memory_mb': 1000}


@pytest.fixture(scope='module')
def api():
    db = fixtures.Database('mysql')
    db.create()
    stack = fixtures.Stack(db.url, conftest.HOSTS[:1]).start()
    stack.client.post('/v1/profiles', {'name': 'p1', 'compute_percent': 10, 'memory_mb': 10})
    yield stack
    stack.stop()
    db.drop()


# (method, path, body or raw string, expected status, words the detail must contain)
CASES = [
    ('GET', '/nope', None, 404, 'could not be found'),
    ('PATCH', '/v1/pools', None, 405, 'allowed: GET, POST'),
    ('GET', '/v1/pools?limit=3', None, 400, "'limit' was unexpected"),
    ('POST', '/v1/pools', '{"name": ', 400, 'not valid JSON'),
    ('POST', '/v1/pools', {'name': 'x', 'colour': 'red'}, 400, "'colour' was unexpected"),
    ('POST', '/v1/pools', {'name': ''}, 400, 'name'),
    ('POST', '/v1/pools', [1, 2], 400, 'is not of type'),
    ('GET', '/v1/pools/missing', None, 404, 'Pool missing not found'),
    ('DELETE', '/v1/pools/missing', None, 404, 'not found'),
    ('GET', '/v1/hosts?state=sideways', None, 400, "'sideways' is not one of"),
    ('GET', '/v1/hosts?pool=a&pool=b', None, 400, 'more than once'),
    ('GET', '/v1/hosts/missing', None, 404, 'Host missing not found'),
    ('GET', '/v1/devices?health=meh', None, 400, 'is not one of'),
    ('GET', '/v1/devices?colour=red', None, 400, 'unexpected'),
    ('GET', '/v1/devices/missing', None, 404, 'Device missing not found'),
    ('POST', '/v1/profiles', {'name': 'q', 'compute_percent': 101, 'memory_mb': 1}, 400,
     'maximum'),
    ('POST', '/v1/profiles', {'name': 'q', 'compute_percent': 50, 'memory_mb': 1, 'count': 2},
     400, 'whole cards'),
    ('POST', '/v1/profiles', {'name': 'p1', 'compute_percent': 10, 'memory_mb': 1}, 409,
     'already exists'),
    ('POST', '/v1/profiles', {'name': 'q', 'compute_percent': 10, 'memory_mb': 1,
                              'isolation': 'iron'}, 400, 'is not one of'),
    ('GET', '/v1/profiles/missing', None, 404, 'not found'),
    ('DELETE', '/v1/profiles/missing', None, 404, 'not found'),
    ('POST', '/v1/vgpus', {'compute_percent': 0, 'memory_mb': 1}, 400, 'compute_percent'),
    ('POST', '/v1/vgpus', {'compute_percent': 10}, 400, "'memory_mb' is missing"),
    ('POST', '/v1/vgpus', {'profile': 'p1', 'memory_mb': 5}, 400,
     "'memory_mb' cannot be combined with 'profile'"),
    ('POST', '/v1/vgpus', {}, 400, "give a profile ('profile') or a shape"),
    ('POST', '/v1/vgpus', {'profile': 'nope'}, 400, "Unknown profile 'nope'"),
    ('POST', '/v1/vgpus', dict(VGPU, locality='nearby'), 400, 'is not one of'),
    ('POST', '/v1/vgpus', dict(VGPU, locality='local'), 400, 'needs consumer.host'),
    ('POST', '/v1/vgpus', dict(VGPU, consumer={'platform': 'nova', 'id': 'i',
                                               'host': 'ghost'}), 400, "Unknown consumer host"),
    ('POST', '/v1/vgpus', dict(VGPU, consumer={'platform': 'cobol', 'id': 'i'}), 400,
     'is not one of'),
    ('POST', '/v1/vgpus', dict(VGPU, count=2), 400, 'whole cards'),
    ('POST', '/v1/vgpus', dict(VGPU, compute_percent=12.55), 400,
     'compute_percent 12.55 has more than one decimal'),
    ('POST', '/v1/vgpus', dict(VGPU, compute_percent=0.05), 400, 'minimum of 0.1'),
    ('POST', '/v1/profiles', {'name': 'q', 'compute_percent': 7.25, 'memory_mb': 1}, 400,
     'more than one decimal'),
    ('POST', '/v1/vgpus', dict(VGPU, models=['Z9000']), 400,
     "Unknown model 'Z9000': the pool has A100-SXM4-80GB."),
    ('POST', '/v1/vgpus', dict(VGPU, memory_mb='lots'), 400, "is not of type 'integer'"),
    ('GET', '/v1/vgpus?state=GONE', None, 400, 'is not one of'),
    ('GET', '/v1/vgpus/missing', None, 404, 'not found'),
    ('DELETE', '/v1/vgpus/missing', None, 404, 'not found'),
    ('GET', '/v1/usage?pool=a&x=1', None, 400, 'unexpected'),
    ('GET', '/v1/usage?pool=nope', None, 404, 'Pool nope not found'),
    ('PUT', '/v1/quotas/p1', {'quota': {'vgpus': -5}}, 400, 'minimum'),
    ('PUT', '/v1/quotas/p1', {'quota': {}}, 400, 'quota'),
    ('PUT', '/v1/quotas/p1', {'quota': {'gpus': 1}}, 400, "'gpus' was unexpected"),
    ('GET', '/v1/quotas/bad%20id', None, 400, 'Invalid project id'),
]


@pytest.mark.parametrize('method,path,body,status,words', CASES,
                         ids=['%s %s %d' % (c[0], c[1], c[3]) for c in CASES])
def test_bad_input(api, method, path, body, status, words):
    before = api.client.get('/v1/vgpus?all_projects=true').json
    kwargs = {'raw': body} if isinstance(body, str) else {'body': body}
    resp = api.client.request(method, path, **kwargs)
    assert resp.status_int == status, resp.text
    (error,) = resp.json['errors']
    assert error['status'] == status and error['code'].startswith('pooling.')
    assert words in error['detail'], error['detail']
    assert api.client.get('/v1/vgpus?all_projects=true').json == before


def test_wrong_content_type(api):
    resp = api.client.request('POST', '/v1/pools', raw=None, body=None,
                              headers={'Content-Type': 'text/plain'})
    assert resp.status_int == 415


@pytest.mark.parametrize('path', ['/v1/pools', '/v1/hosts', '/v1/devices', '/v1/profiles',
                                  '/v1/vgpus', '/v1/usage', '/v1/quotas/p1'])
@pytest.mark.parametrize('header,status', [('accelerator-pool 1.99', 406),
                                           ('accelerator-pool one', 400)])
def test_wrong_microversion_on_every_endpoint(api, path, header, status):
    resp = api.client.get(path, headers={'OpenStack-API-Version': header})
    assert resp.status_int == status
    assert 'icroversion' in resp.json['errors'][0]['detail'] or 'version' in \
        resp.json['errors'][0]['detail']


def test_latest_microversion_is_accepted(api):
    resp = api.client.get('/v1/pools', headers={'OpenStack-API-Version':
                                                'accelerator-pool latest'})
    assert resp.status_int == 200
    assert resp.headers['OpenStack-API-Version'] == (
        'accelerator-pool ' + microversion.max_version_string())
