"""vSphere capacity in the pool's books (MariaDB, the vCenter simulator): ESXi hosts' cards
are discovered into a pool, a hard vGPU for a vSphere VM is claimed on one and snapped to a host
profile, and the vmware driver gives the VM exactly that profile."""

import pytest
from pyVim import task as vim_task
from pyVmomi import vim

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
from tests.functional.platforms import vcsim as vcsim_mod

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
    request = base.PlatformRequest.from_vgpu(
        dict(vgpu, attachment={'slices': [{'isolation': 'hard'}], 'remote': None}))
    if slice_['host'] == vm.runtime.host.name:
        # Local: the profile the pool booked, exactly.
        attachment = driver.attach(request)
        devices = test_vmware._vgpus(test_vmware._vm(vcsim, 'DC0_C0_RP0_VM0'))
        assert [d.backing.vgpu for d in devices] == ['grid_a100-4c']
        assert attachment.details['devices'][0]['candidates'][0] == 'grid_a100-4c'
    else:
        # NOTE: the scheduler does not know which ESXi host a VM runs on (the consumer host
        # is the vCenter); a card of another ESXi host cannot serve it (no remoting there).
        with pytest.raises(base.ConsumerStateError, match='migrate the VM there'):
            driver.attach(request)


def test_an_unreachable_vcenter_reports_nothing_and_does_not_fail(db, vcsim):
    options = vcsim.options()
    vcsim.stop()
    ctx = context.get_admin_context()
    assert discovered.report_discovered(_Conductor(), ctx, [vmware.VmwarePlatform(options)],
                                        pool='vsphere') == {}


def test_the_vcenter_agent_enters_its_esxi_hosts_and_serves_their_cards(
        mysql_db, tmp_path, vcsim_binary):
    """Through the whole service: the agent named after the vCenter reports its ESXi host with
    its heartbeat and answers the slice calls for it; a vGPU for a VM on that host goes ACTIVE
    and the VM gets the profile; a container's vGPU on an ESXi card is refused."""
    from tests.functional.platforms import test_every_cloud

    sim = vcsim_mod.Simulator(vcsim_binary, '-hosts', '1')
    stack = test_every_cloud.EveryCloudStack(mysql_db.url, [('vc1', 'fab-vs', '')],
                                             str(tmp_path), sim.url)
    stack.start()
    try:
        def hosts():
            return {h['name']: h for h in stack.client.get('/v1/hosts').json['hosts']}
        stack.wait_for(lambda: 'DC0_C0_H0' in hosts(), 'the ESXi host in the pool')
        esx = hosts()['DC0_C0_H0']
        assert (esx['device_count'], esx['state'], esx['pool']) == (2, 'up', hosts()['vc1']['pool'])
        # the ESXi host's own CPU and RAM (its hardware summary), not the vCenter agent's machine
        content = test_vmware._si(sim).RetrieveContent()
        view = content.viewManager.CreateContainerView(content.rootFolder, [vim.HostSystem], True)
        summary = next(h for h in view.view if h.name == 'DC0_C0_H0').summary.hardware
        assert (esx['cpu_milli'], esx['ram_mb']) == (
            summary.numCpuThreads * 1000, summary.memorySize // 2**20)
        assert esx['cpu_milli'] > 0 and esx['ram_mb'] > 0
        cards = stack.client.get('/v1/devices?host=DC0_C0_H0').json['devices']
        assert [c['pci_address'] for c in cards] == ['0000:41:00.0', '0000:42:00.0']

        vm = test_vmware._vm(sim, 'DC0_C0_RP0_VM0')
        assert vm.runtime.host.name == 'DC0_C0_H0'
        vim_task.WaitForTask(vm.PowerOffVM_Task())
        resp = stack.client.post('/v1/vgpus', {
            'compute_percent': 15, 'memory_mb': 6000, 'isolation': 'hard',
            'consumer': {'platform': 'vmware', 'host': 'vc1', 'id': vm._moId}})
        assert resp.status_int == 201, resp.text
        # Snapped to grid_a100-8c's shape (20 %, 8 GiB) on an ESXi card.
        assert (resp.json['compute_percent'], resp.json['memory_mb']) == (20, 8192)
        vgpu = stack.wait_state(resp.json['uuid'], ('ACTIVE',))
        assert vgpu['slices'][0]['host'] == 'DC0_C0_H0'
        stack.wait_for(lambda: test_vmware._vgpus(test_vmware._vm(sim, 'DC0_C0_RP0_VM0')),
                       'the vGPU device on the VM')
        [device] = test_vmware._vgpus(test_vmware._vm(sim, 'DC0_C0_RP0_VM0'))
        assert device.backing.vgpu == 'grid_a100-8c'

        resp = stack.client.post('/v1/vgpus', {
            'compute_percent': 10, 'memory_mb': 4096,
            'consumer': {'platform': 'container', 'host': 'vc1', 'id': 'web'}})
        assert resp.status_int == 201, resp.text
        refused = stack.wait_state(resp.json['uuid'], ('ERROR',))
        assert 'serve vmware consumers on it only' in refused['state_reason']

        assert stack.client.delete('/v1/vgpus/' + vgpu['uuid']).status_int == 202
        stack.wait_state(vgpu['uuid'], ('DELETED',))
        assert test_vmware._vgpus(test_vmware._vm(sim, 'DC0_C0_RP0_VM0')) == []
    finally:
        stack.stop()
        sim.stop()
