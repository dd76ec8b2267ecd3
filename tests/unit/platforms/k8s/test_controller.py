"""The controller through the real kubernetes client against a stand-in API server."""

import pytest

from pooling_drivers.platforms.kubernetes import controller
from pooling_drivers.platforms.kubernetes import model
from tests.unit.platforms.k8s import fake_apiserver
from tests.unit.platforms.k8s import pool_data as P


@pytest.fixture
def server():
    s = fake_apiserver.FakeApiServer().start()
    yield s
    s.stop()


def view(vgpus=(), devices=P.DEVICES):
    return model.PoolView(P.booked(devices, vgpus), P.HOSTS, P.PROFILES, list(vgpus))


def test_first_sync_creates_then_nothing_to_do(server):
    pub = controller.Publisher(server.client())
    result = pub.sync(view())
    assert sorted(result.created) == sorted(
        ['a100-quarter.pooling.openstack.org', 'half-local.pooling.openstack.org',
         model.slice_name('node-a', 0), model.slice_name('node-a', 1),
         model.slice_name('node-b', 0), model.slice_name('node-b', 1)])
    assert {s['spec']['pool']['generation'] for s in server.objects('resourceslices')} == {1}
    again = pub.sync(view())
    assert not again.changed
    # Lists asked the server to filter by our driver.
    assert any('fieldSelector=spec.driver%3Dpooling.openstack.org' in q
               for _m, _p, q in server.requests)


def test_capacity_taken_elsewhere_shrinks_the_slice_and_bumps_the_generation(server):
    pub = controller.Publisher(server.client())
    pub.sync(view())
    nova = P.vgpu('v1', 'nova', P.GPU_A0, 50.0, 40960)
    result = pub.sync(view([nova]))
    assert result.updated == [model.slice_name('node-a', 0), model.slice_name('node-a', 1)]
    slices = {s['metadata']['name']: s for s in server.objects('resourceslices')}
    counters = slices[model.slice_name('node-a', 0)]['spec']['sharedCounters'][0]['counters']
    assert counters['memory'] == {'value': '40960Mi'}
    assert slices[model.slice_name('node-a', 0)]['spec']['pool']['generation'] == 2
    assert slices[model.slice_name('node-b', 0)]['spec']['pool']['generation'] == 1


def test_a_restarted_controller_continues_the_generation(server):
    controller.Publisher(server.client()).sync(view())
    fresh = controller.Publisher(server.client())
    assert not fresh.sync(view()).changed
    fresh.sync(view([P.vgpu('v1', 'nova', P.GPU_A0, 50.0, 40960)]))
    gens = {s['spec']['pool']['name']: s['spec']['pool']['generation']
            for s in server.objects('resourceslices')}
    assert gens == {'node-a': 2, 'node-b': 1}


def test_conflicting_writer_is_read_again_and_overwritten(server):
    pub = controller.Publisher(server.client())
    pub.sync(view())
    name = model.slice_name('node-a', 0)
    server.touch('resourceslices', name)
    result = pub.sync(view())
    assert result.updated == [name]
    (obj,) = [s for s in server.objects('resourceslices') if s['metadata']['name'] == name]
    assert 'touched' not in obj['metadata']['labels']


def test_stale_resource_version_conflict_is_retried(server, monkeypatch):
    pub = controller.Publisher(server.client())
    pub.sync(view())
    name = model.slice_name('node-a', 0)
    real = pub.current_slices

    def stale():
        current = real()
        server.touch('resourceslices', name)  # changes after we read it
        return current

    monkeypatch.setattr(pub, 'current_slices', stale)
    result = pub.sync(view([P.vgpu('v1', 'nova', P.GPU_A0, 50.0, 40960)]))
    assert result.conflicts == 1 and name in result.updated


def test_pools_and_classes_that_went_away_are_deleted(server):
    pub = controller.Publisher(server.client())
    pub.sync(view())
    foreign = {'apiVersion': 'resource.k8s.io/v1', 'kind': 'ResourceSlice',
               'metadata': {'name': 'other-driver-slice'},
               'spec': {'driver': 'gpu.example.com', 'nodeName': 'node-a',
                        'pool': {'name': 'node-a', 'generation': 1, 'resourceSliceCount': 1}}}
    server.handle('POST', 'resourceslices', None, None, {}, foreign)
    smaller = model.PoolView([P.DEVICES[0]], P.HOSTS, P.PROFILES[:1], [])
    result = pub.sync(smaller)
    assert sorted(result.deleted) == sorted(['half-local.pooling.openstack.org',
                                             model.slice_name('node-b', 0),
                                             model.slice_name('node-b', 1)])
    names = [s['metadata']['name'] for s in server.objects('resourceslices')]
    assert 'other-driver-slice' in names
