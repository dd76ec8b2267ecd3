"""Many pools, one service (MariaDB): a host moves between pools without losing its vGPUs, and
usage is read per pool, per model and per platform."""

import pytest

from pooling import claims
from pooling import conf as pooling_conf
from pooling import context
from pooling.db import api as db_api
from pooling.db import migration
from pooling.objects import host as host_obj
from pooling.objects import platform_usage
from pooling.objects import usage as usage_obj
from pooling.objects import vgpu as vgpu_obj

pytestmark = pytest.mark.functional

CARD = {'uuid': 'card-x', 'vendor': 'nvidia', 'model': 'A100-PCIE-40GB', 'memory_mb': 40960,
        'compute_units': 108, 'healthy': True, 'isolation': ['none']}


@pytest.fixture
def db(mysql_db):
    restore = db_api.use_connection(mysql_db.url)
    migration.upgrade()
    yield mysql_db
    restore()


def test_a_host_moves_between_pools_with_its_vgpus(db):
    ctx = context.get_admin_context()
    host_obj.report(ctx, 'gpu-x', 'site-a', 'f', 0, 0, [CARD])
    host_obj.report(ctx, 'gpu-y', 'site-b', 'f', 0, 0, [dict(CARD, uuid='card-y')])
    service = claims.ClaimService(pooling_conf.new_conf())
    vgpu = service.claim(ctx, {
        'project_id': 'p1', 'compute_milli': 250, 'memory_mb': 10240, 'locality': 'local',
        'pool': 'site-a', 'consumer': {'platform': 'vmware', 'host': 'gpu-x', 'id': 'vm-1'}})
    assert vgpu['slices'][0]['device_uuid'] == 'card-x'

    # The operator moves gpu-x to site-b: its agent reports under the new [agent] pool.
    host_obj.report(ctx, 'gpu-x', 'site-b', 'f', 0, 0, [CARD])

    again = vgpu_obj.get_vgpu(ctx, vgpu['uuid'])
    assert again['slices'] == vgpu['slices'] and again['state'] == vgpu['state']
    assert host_obj.get_host(ctx, 'gpu-x')['pool'] == 'site-b'
    [site_b] = usage_obj.usage(ctx, pool='site-b')
    assert (site_b['devices'], site_b['allocated']) == (
        2, {'compute_percent': 25.0, 'memory_mb': 10240})
    assert usage_obj.usage(ctx, pool='site-a') == []
    assert platform_usage.by_platform(ctx, pool='site-b') == {('site-b', 'A100-PCIE-40GB'): [
        {'platform': 'vmware', 'vgpus': 1, 'compute_percent': 25.0, 'memory_mb': 10240}]}
    assert platform_usage.by_platform(ctx) == platform_usage.by_platform(ctx, pool='site-b')
