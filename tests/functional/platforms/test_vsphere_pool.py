"""vSphere capacity in the pool's books (MariaDB, the vCenter simulator): ESXi hosts' cards
are discovered into a pool, a hard vGPU for a vSphere VM is claimed on one and snapped to a host
profile, and the vmware driver gives the VM exactly that profile."""

import pytest
from pyVim import task as vim_task

from pooling import claims
from pooling import conf as pooling_conf
from pooling import context
from pooling.agent import discovered
from pooling.db import api as db_api
from pooling.db import migration
from pooling.objects import device as device_obj
from pooling.objects import host as host_obj
from pooling_drivers.platforms import base
from pooling_drivers.platforms.vmware import driver as vmware
from tests.functional.platforms import test_vmware

pytestmark = pytest.mark.functional


class _Conductor:
    """What the agent's conductor client does with a report, in-process."""

    def report(self, ctx, host, devices):
        host_obj.report(ctx, host['name'], host['pool'], host['fabric'], host['cpu_milli'],
                        host['ram_mb'], devices)


@pytest.fixture
def db(mysql_db):
    restore = db_api.use_connection(mysql_db.url)
    migration.upgrade()
    yield mysql_db
    restore()


def test_esxi_cards_join_the_pool_and_a_claimed_vgpu_gets_its_profile(db, vcsim):
    driver = vmware.VmwarePlatform(vcsim.options())
    ctx = context.get_admin_context()
    names = discovered.report_discovered(_Conductor(), ctx, [driver], pool='vsphere',
                                         fabric='vsphere-1')
    assert sorted(names) == ['DC0_C0_H0', 'DC0_C0_H1']
    devices = device_obj.list_devices(ctx, pool='vsphere')
    assert len(devices) == 4
    assert {tuple(s) for s in devices[0]['partition_shapes']} >= {(100, 4096), (200, 8192),
                                                                  (1000, 40960)}

    # The agent that runs the vmware driver is the consumer host of every vSphere VM.
    _Conductor().report(ctx, {'name': 'vc1', 'pool': 'vsphere', 'fabric': 'vsphere-1',
                              'cpu_milli': 0, 'ram_mb': 0}, [])
    vm = test_vmware._vm(vcsim, 'DC0_C0_RP0_VM0')
    vim_task.WaitForTask(vm.PowerOffVM_Task())
    conf = pooling_conf.new_conf()
    vgpu = claims.ClaimService(conf).claim(ctx, {
        'project_id': 'p1', 'compute_milli': 50, 'memory_mb': 3000, 'isolation': 'hard',
        'locality': 'remote-allowed', 'pool': 'vsphere',
        'consumer': {'platform': 'vmware', 'host': 'vc1', 'id': vm._moId}})
    # Snapped to the smallest profile shape holding it: grid_a100-4c's (10 %, 4 GiB).
    assert (vgpu['compute_milli'], vgpu['memory_mb']) == (100, 4096)
    [slice_] = vgpu['slices']
    assert slice_['host'] in names
    lease = {'protocol': 'sim', 'endpoints': [slice_['host'] + ':14833'], 'token': 't'}
    attachment = driver.attach(base.PlatformRequest.from_vgpu(
        dict(vgpu, attachment={'slices': [{'isolation': 'hard'}], 'remote': lease})))
    devices = test_vmware._vgpus(test_vmware._vm(vcsim, 'DC0_C0_RP0_VM0'))
    if slice_['host'] == vm.runtime.host.name:
        # Local: the profile the pool booked, exactly.
        assert [d.backing.vgpu for d in devices] == ['grid_a100-4c']
        assert attachment.details['devices'][0]['candidates'][0] == 'grid_a100-4c'
    else:
        # NOTE: the scheduler does not know which ESXi host a VM runs on (the consumer host
        # is the vCenter), so it may place the slice on another: then it is served remote.
        assert devices == [] and attachment.details['mode'] == 'remote'


def test_an_unreachable_vcenter_reports_nothing_and_does_not_fail(db, vcsim):
    options = vcsim.options()
    vcsim.stop()
    ctx = context.get_admin_context()
    assert discovered.report_discovered(_Conductor(), ctx, [vmware.VmwarePlatform(options)],
                                        pool='vsphere') == []
