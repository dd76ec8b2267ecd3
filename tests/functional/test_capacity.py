"""GET /v1/capacity (1.1): what a tenant needs to choose a shape, and nothing more."""

import pytest

from tests.functional import conftest
from tests.functional import fixtures

V11 = {'OpenStack-API-Version': 'accelerator-pool 1.1'}


@pytest.fixture(scope='module')
def pool():
    db = fixtures.Database('mysql')
    db.create()
    stack = fixtures.Stack(db.url, conftest.HOSTS[:1]).start()  # gpu-a: 2 x A100 80 GB
    stack.client.post('/v1/profiles', {'name': 'half', 'compute_percent': 50,
                                       'memory_mb': 40000})
    stack.client.post('/v1/profiles', {'name': 'two', 'compute_percent': 100,
                                       'memory_mb': 81920, 'count': 2})
    yield stack
    stack.stop()
    db.drop()


def test_capacity_counts_what_fits_now(pool):
    tenant = pool.client.as_('pa', 'reader')
    cap = tenant.get('/v1/capacity', headers=V11).json['capacity']
    assert {p['name']: p['available'] for p in cap['profiles']} == {'half': 4, 'two': 1}
    (model,) = cap['models']
    assert model['model'] == 'A100-SXM4-80GB' and model['whole_free_cards'] == 2
    assert model['free'] == {'compute_percent': 200.0, 'memory_mb': 2 * 81920}
    member = pool.client.as_('pa', 'member,reader')
    resp = member.post('/v1/vgpus', {'profile': 'half'})
    assert resp.status_int == 201
    cap = tenant.get('/v1/capacity', headers=V11).json['capacity']
    assert {p['name']: p['available'] for p in cap['profiles']} == {'half': 3, 'two': 0}
    assert cap['models'][0]['largest_free'] == {'compute_percent': 100.0, 'memory_mb': 81920}
    assert cap['models'][0]['whole_free_cards'] == 1


def test_capacity_names_no_host_device_or_project(pool):
    text = pool.client.as_('pb', 'reader').get('/v1/capacity', headers=V11).text
    devices = pool.client.get('/v1/devices').json['devices']
    for secret in ['gpu-a', 'project'] + [d['uuid'] for d in devices] + \
            [d['pci_address'] for d in devices]:
        assert secret not in text


def test_capacity_needs_microversion_1_1(pool):
    assert pool.client.get('/v1/capacity').status_int == 404
