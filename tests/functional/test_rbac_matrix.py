"""The RBAC matrix: every endpoint and method × reader / member / admin / service ×
own / other project, against a running pool, expected answers read from ONE table.

The table is doc/source/admin/rbac-matrix.csv; the admin guide renders the
same file (doc/source/admin/rbac.md), so the documented matrix is the tested
one. Placeholders in a row: ``{project}`` is the target project (the caller's
own, or another one), ``{vgpu}`` a vGPU of the target project, ``{pool}`` and
``{profile}`` a pool and a profile made for the cell, ``{host}`` and
``{device}`` a real host and device, ``{name}`` a fresh name. Resources no
project owns (pools, hosts, devices, profiles) answer the same for both
columns. ``POOLING_RBAC_RECORD=1`` prints the answers seen instead of
asserting, to review a change of the table by hand.
"""

import csv
import json
import os
from pathlib import Path
import uuid

import pytest

from pooling_api.controllers import root
from tests.functional import conftest
from tests.functional import fixtures

TABLE = Path(__file__).resolve().parents[2] / 'doc/source/admin/rbac-matrix.csv'
PERSONAS = {'reader': 'reader', 'member': 'member,reader', 'admin': 'admin,member,reader',
            'service': 'service'}
CALLER_PROJECT = {'reader': 'pa', 'member': 'pa', 'admin': 'pa', 'service': 'service'}
OTHER = 'pb'
VERSION = {'OpenStack-API-Version': 'accelerator-pool latest'}


def rows():
    with TABLE.open() as f:
        return [r for r in csv.DictReader(f) if r['method'] and not r['method'].startswith('#')]


def cells():
    for row in rows():
        for persona in PERSONAS:
            for which in ('own', 'other'):
                yield pytest.param(row, persona, which,
                                   id='%s %s %s-%s' % (row['method'], row['path'], persona,
                                                       which))


@pytest.fixture(scope='module')
def pool():
    db = fixtures.Database('mysql')
    db.create()
    stack = fixtures.Stack(db.url, conftest.HOSTS[:1]).start()
    stack.device = stack.client.get('/v1/devices').json['devices'][0]['uuid']
    stack.client.put('/v1/quotas/pa', {'quota': {'vgpus': 1000}})
    yield stack
    stack.stop()
    db.drop()


def _vgpu(pool, project):
    resp = pool.client.as_(project, 'member,reader').post(
        '/v1/vgpus', {'compute_percent': 1, 'memory_mb': 10})
    assert resp.status_int == 201, resp.text
    return resp.json['uuid']


def _fill(pool, text, project, needs_fresh):
    if '{vgpu}' in text:
        key = ('vgpu', project)
        if needs_fresh or key not in pool.__dict__.setdefault('made', {}):
            pool.made[key] = _vgpu(pool, project)
        text = text.replace('{vgpu}', pool.made[key])
    if '{pool}' in text:
        name = 'rbac-%s' % uuid.uuid4().hex[:8]
        assert pool.client.post('/v1/pools', {'name': name}).status_int == 201
        text = text.replace('{pool}', name)
    if '{profile}' in text:
        name = 'rbac-%s' % uuid.uuid4().hex[:8]
        assert pool.client.post('/v1/profiles', {'name': name, 'compute_percent': 10,
                                                 'memory_mb': 10}).status_int == 201
        text = text.replace('{profile}', name)
    return (text.replace('{project}', project).replace('{host}', 'gpu-a')
            .replace('{device}', pool.device).replace('{name}', 'n-%s' % uuid.uuid4().hex[:8]))


def test_table_covers_every_endpoint_and_method():
    listed = {(r['method'], root.match(r['path'].split('?')[0].replace('{', '').replace(
        '}', ''))[0]) for r in rows()}
    routes = {(m, path) for path, methods in root.ROUTES.items() for m in methods}
    assert routes - listed == set(), 'endpoints missing from %s' % TABLE
    for r in rows():
        for persona in PERSONAS:
            for which in ('own', 'other'):
                assert r['%s %s' % (persona, which)].isdigit(), (r, persona, which)


@pytest.mark.parametrize('row,persona,which', list(cells()))
def test_rbac(pool, row, persona, which):
    caller = CALLER_PROJECT[persona]
    target = caller if which == 'own' else OTHER
    fresh = row['method'] == 'DELETE'
    path = _fill(pool, row['path'], target, fresh)
    body = json.loads(_fill(pool, row['body'], target, fresh)) if row['body'] else None
    client = pool.client.as_(caller, PERSONAS[persona])
    resp = client.request(row['method'], path, body=body, headers=VERSION)
    expected = int(row['%s %s' % (persona, which)])
    if os.environ.get('POOLING_RBAC_RECORD'):
        print('RBAC %s,%s,%s-%s,%d' % (row['method'], row['path'], persona, which,
                                        resp.status_int))
        return
    assert resp.status_int == expected, (resp.status_int, resp.text[:300])


def test_system_reader_sees_the_hardware_and_changes_nothing(pool):
    """Keystone's system reader persona: hosts, devices and usage, nothing else."""
    client = pool.client.as_('pa', 'reader')
    system = dict(VERSION, **{'OpenStack-System-Scope': 'all'})
    for path in ('/v1/hosts', '/v1/devices', '/v1/usage', '/v1/hosts/gpu-a'):
        assert client.get(path, headers=system).status_int == 200, path
    assert client.post('/v1/pools', {'name': 'sys'}, headers=system).status_int == 403
    assert client.get('/v1/hosts', headers=VERSION).status_int == 403
