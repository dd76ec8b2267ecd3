"""Schema migrations and the claim transaction on every supported database."""

import pytest

from pooling import context
from pooling import exception
from pooling import scheduler
from pooling.db import api as db_api
from pooling.db import migration
from pooling.objects import host as host_obj
from pooling.objects import quota as quota_obj
from pooling.objects import vgpu as vgpu_obj


def _spec(**kw):
    spec = {'project_id': 'p1', 'compute_milli': 500, 'memory_mb': 1000, 'count': 1,
            'locality': 'remote-allowed'}
    spec.update(kw)
    return spec


def _placement(device, generation, compute=500, memory=1000):
    return scheduler.Placement(host='h1', slices=(scheduler.SliceAssignment(
        device_uuid=device, compute_milli=compute, memory_mb=memory,
        generation=generation),), cpu_host='h1')


@pytest.fixture
def db(any_db):
    restore = db_api.use_connection(any_db.url)
    migration.upgrade()
    yield any_db
    db_api.get_engine().dispose()
    restore()


def test_db_sync_reaches_head(db):
    assert migration.version() == '0007_cyborg_arq'
    migration.upgrade()  # idempotent
    assert migration.version() == '0007_cyborg_arq'


def test_claim_is_compare_and_swap_on_generation(db):
    ctx = context.get_admin_context()
    host_obj.report(ctx, 'h1', 'default', 'f', 0, 0, [
        {'uuid': 'dev-1', 'vendor': 'nvidia', 'model': 'A100', 'memory_mb': 2000,
         'compute_units': 108, 'pci_address': '0000:01:00.0', 'numa_node': 0,
         'driver_version': '1', 'healthy': True, 'isolation': ['none']}])
    first = vgpu_obj.create_claimed(ctx, _spec(), _placement('dev-1', 0))
    assert first['state'] == 'SCHEDULED'
    # A decision made on a stale generation is re-checked under the row lock:
    # it still fits, so it is taken and the generation moves on.
    vgpu_obj.create_claimed(ctx, _spec(), _placement('dev-1', 0))
    from pooling.objects import device as device_obj

    assert device_obj.get_device(ctx, 'dev-1')['generation'] == 2
    # The device is full now: neither a stale nor the current generation gets more.
    for generation in (0, 2):
        with pytest.raises(exception.GenerationConflict):
            vgpu_obj.create_claimed(ctx, _spec(), _placement('dev-1', generation))
    assert len(vgpu_obj.list_vgpus(ctx)) == 2
    assert quota_obj.get_quota(ctx, 'p1')['usage'] == {
        'vgpus': 2, 'memory_mb': 2000, 'compute_milli': 1000}
    # Release gives capacity and quota back exactly once.
    assert vgpu_obj.free_capacity(ctx, first['uuid'], 'DELETED') is True
    assert vgpu_obj.free_capacity(ctx, first['uuid'], 'DELETED') is False
    assert quota_obj.get_quota(ctx, 'p1')['usage']['vgpus'] == 1


def test_quota_refuses_and_rolls_back(db):
    ctx = context.get_admin_context()
    host_obj.report(ctx, 'h1', 'default', None, 0, 0, [
        {'uuid': 'dev-1', 'vendor': 'nvidia', 'model': 'A100', 'memory_mb': 8000,
         'compute_units': 108, 'healthy': True}])
    quota_obj.set_quota(ctx, 'p1', vgpus=1)
    vgpu_obj.create_claimed(ctx, _spec(), _placement('dev-1', 0))
    with pytest.raises(exception.QuotaExceeded, match='vgpus: 1 in use'):
        vgpu_obj.create_claimed(ctx, _spec(), _placement('dev-1', 1))
    # Nothing of the refused claim was written.
    from pooling.objects import device as device_obj

    dev = device_obj.get_device(ctx, 'dev-1')
    assert (dev['compute_used'], dev['memory_used'], dev['generation']) == (500, 1000, 1)


def _one_device(ctx, memory=8000):
    host_obj.report(ctx, 'h1', 'default', None, 0, 0, [
        {'uuid': 'dev-1', 'vendor': 'nvidia', 'model': 'A100', 'memory_mb': memory,
         'compute_units': 108, 'healthy': True}])


def test_a_claim_answers_what_a_read_returns(db):
    # The claim builds its answer from what it wrote (no read back): it must
    # be what any later read of the vGPU says.
    ctx = context.get_admin_context()
    _one_device(ctx)
    claimed = vgpu_obj.create_claimed(
        ctx, _spec(name='n', models=['A100'], consumer={'platform': 'k8s', 'host': 'h1',
                                                       'id': 'pod-1'}),
        _placement('dev-1', 0))
    assert claimed == vgpu_obj.get_vgpu(ctx, claimed['uuid'])


def test_delete_request_is_one_update_with_a_404_for_the_rest(db):
    ctx = context.get_admin_context()
    _one_device(ctx)
    uuid = vgpu_obj.create_claimed(ctx, _spec(), _placement('dev-1', 0))['uuid']
    with pytest.raises(exception.NotFound):
        vgpu_obj.request_delete(ctx, uuid, project_id='someone-else')
    with pytest.raises(exception.NotFound):
        vgpu_obj.request_delete(ctx, 'no-such-vgpu')
    assert vgpu_obj.request_delete(ctx, uuid, project_id='p1') == uuid
    assert vgpu_obj.request_delete(ctx, uuid) == uuid  # idempotent while releasing
    assert vgpu_obj.get_vgpu(ctx, uuid)['state'] == 'RELEASING'
    vgpu_obj.free_capacity(ctx, uuid, 'DELETED')
    with pytest.raises(exception.NotFound):
        vgpu_obj.request_delete(ctx, uuid)


def test_batched_state_writes(db):
    ctx = context.get_admin_context()
    _one_device(ctx)
    a, b, c = (vgpu_obj.create_claimed(ctx, _spec(compute_milli=200, memory_mb=100),
                                       _placement('dev-1', g, 200, 100))['uuid']
               for g in range(3))
    vgpu_obj.request_delete(ctx, c)  # deleted before the conductor got to it
    preparing = vgpu_obj.begin_prepare(ctx, [a, b, c, 'gone'])
    assert sorted(v['uuid'] for v in preparing) == sorted([a, b])
    vgpu_obj.request_delete(ctx, b)  # deleted while its slices were prepared
    assert vgpu_obj.activate(ctx, {a: {'slices': []}, b: {'slices': []}}) == [a]
    assert vgpu_obj.get_vgpu(ctx, a)['attachment'] == {'slices': []}
    from pooling.objects import device as device_obj

    assert device_obj.get_device(ctx, 'dev-1')['compute_used'] == 600
    assert sorted(vgpu_obj.free_capacities(ctx, [b, c], 'DELETED')) == sorted([b, c])
    assert vgpu_obj.free_capacities(ctx, [b, c], 'DELETED') == []  # once only
    dev = device_obj.get_device(ctx, 'dev-1')
    assert (dev['compute_used'], dev['memory_used']) == (200, 100)


def test_demand_is_read_from_the_recent_vgpus(db, monkeypatch):
    ctx = context.get_admin_context()
    _one_device(ctx, memory=100000)
    for g, compute in enumerate([100, 100, 100, 200, 300]):
        vgpu_obj.create_claimed(ctx, _spec(compute_milli=compute, memory_mb=10),
                                _placement('dev-1', g, compute, 10))
    assert vgpu_obj.shapes_requested(ctx, limit=1) == [(100, 10, 1)]
    monkeypatch.setattr(vgpu_obj, 'RECENT_VGPUS', 2)  # only the 200 and the 300
    assert vgpu_obj.shapes_requested(ctx, limit=5, with_counts=True) == [
        (200, 10, 1, 1), (300, 10, 1, 1)]
