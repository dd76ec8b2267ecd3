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
    assert migration.version() == '0003_drop_quota_usages'
    migration.upgrade()  # idempotent
    assert migration.version() == '0003_drop_quota_usages'


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
