"""vSphere capacity in the pool's books (MariaDB, the vCenter simulator): ESXi hosts' cards
are discovered into a pool, a hard vGPU for a vSphere VM is claimed on a card of the VM's own
ESXi host and snapped to a host profile, and the vmware driver gives the VM exactly that profile;
with its host full the VM's vGPU is served remotely by an agent's host, never by another ESXi
host's card."""

import json
import types

import pytest
from pyVim import task as vim_task
from pyVmomi import vim

from pooling import claims
from pooling import conf as pooling_conf
from pooling import context
from pooling import exception
from pooling import locate
from pooling.agent import discovered
from pooling.agent import platforms as agent_platforms
from pooling.db import api as db_api
from pooling.db import migration
from pooling.objects import device as device_obj
from pooling.objects import host as host_obj
from pooling_drivers.platforms import base
from pooling_drivers.platforms.vmware import driver as vmware
from pooling_drivers.platforms.vmware import vm as vm_mod
from tests.functional.platforms import test_cdi_agent
from tests.functional.platforms import test_vmware
from tests.functional.platforms import vcsim as vcsim_mod

pytestmark = pytest.mark.functional


class _Conductor:
    """What the agent's conductor client does with a report, in-process."""

    def report(self, ctx, host, devices):
        host_obj.report(ctx, host['name'], host['pool'], host['fabric'], host['cpu_milli'],
                        host['ram_mb'], devices, platform=host.get('platform'))


@pytest.fixture
def db(mysql_db):
    restore = db_api.use_connection(mysql_db.url)
    migration.upgrade()
    yield mysql_db
    restore()


class _Locator(locate.ConsumerLocator):
    """The API's locator with the agent's platform endpoint called in-process (no RPC)."""

    def __init__(self, driver):
        conf = types.SimpleNamespace(agent=types.SimpleNamespace(host='vc1'))
        self.endpoint = agent_platforms.PlatformEndpoint(conf, [driver])

    def _ask(self, context, consumer):
        return self.endpoint.platforms_locate(context, consumer)


def test_esxi_cards_join_the_pool_and_a_vm_gets_its_own_hosts_cards(db, vcsim):
    driver = vmware.VmwarePlatform(vcsim.options())
    ctx = context.get_admin_context()
    names = discovered.report_discovered(_Conductor(), ctx, [driver], pool='vsphere',
                                         fabric='vsphere-1')
    assert sorted(names) == ['DC0_C0_H0', 'DC0_C0_H1']
    devices = device_obj.list_devices(ctx, pool='vsphere')
    assert len(devices) == 4
    assert {tuple(s) for s in devices[0]['partition_shapes']} >= {(100, 4096), (200, 8192),
                                                                  (1000, 40960)}
    assert host_obj.platforms(ctx) == {'DC0_C0_H0': 'vmware', 'DC0_C0_H1': 'vmware'}

    # The agent that runs the vmware driver is the consumer host of every vSphere VM.
    _Conductor().report(ctx, {'name': 'vc1', 'pool': 'vsphere', 'fabric': 'vsphere-1',
                              'cpu_milli': 0, 'ram_mb': 0}, [])
    vm = test_vmware._vm(vcsim, 'DC0_C0_RP0_VM0')
    assert vm.runtime.host.name == 'DC0_C0_H1'
    vim_task.WaitForTask(vm.PowerOffVM_Task())
    conf = pooling_conf.new_conf()
    service = claims.ClaimService(conf, locator=_Locator(driver))
    spec = {'project_id': 'p1', 'compute_milli': 50, 'memory_mb': 3000, 'isolation': 'hard',
            'locality': 'remote-allowed', 'pool': 'vsphere',
            'consumer': {'platform': 'vmware', 'host': 'vc1', 'id': vm._moId}}
    vgpu = service.claim(ctx, spec)
    # Snapped to the smallest profile shape holding it: grid_a100-4c's (10 %, 4 GiB).
    assert (vgpu['compute_milli'], vgpu['memory_mb']) == (100, 4096)
    [slice_] = vgpu['slices']
    assert slice_['host'] == 'DC0_C0_H1'
    assert vgpu['attachment'] == {'consumer_location': 'DC0_C0_H1'}
    request = base.PlatformRequest.from_vgpu(
        dict(vgpu, attachment={'slices': [{'isolation': 'hard'}], 'remote': None}))
    attachment = driver.attach(request)
    devices = test_vmware._vgpus(test_vmware._vm(vcsim, 'DC0_C0_RP0_VM0'))
    assert [d.backing.vgpu for d in devices] == ['grid_a100-4c']
    assert attachment.details['devices'][0]['candidates'][0] == 'grid_a100-4c'

    # Whole cards: H1 has one left, H0 two; the VM gets H1's and then none, although H0's
    # are free (no card of this pool could be served to it remotely: vc1 has none).
    big = dict(spec, compute_milli=1000, memory_mb=40960)
    assert service.claim(ctx, big)['slices'][0]['host'] == 'DC0_C0_H1'
    with pytest.raises(exception.NoCapacity, match=r'runs on DC0_C0_H1: .*\(DC0_C0_H0\)'):
        service.claim(ctx, big)


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

        # A container's vGPU is not even placed on an ESXi card: it could not use it.
        resp = stack.client.post('/v1/vgpus', {
            'compute_percent': 10, 'memory_mb': 4096,
            'consumer': {'platform': 'container', 'host': 'vc1', 'id': 'web'}})
        assert resp.status_int == 409, resp.text
        assert 'serve only consumers running on them' in resp.json['errors'][0]['detail']

        assert stack.client.delete('/v1/vgpus/' + vgpu['uuid']).status_int == 202
        stack.wait_state(vgpu['uuid'], ('DELETED',))
        assert test_vmware._vgpus(test_vmware._vm(sim, 'DC0_C0_RP0_VM0')) == []
    finally:
        stack.stop()
        sim.stop()


class _VsphereStack(test_cdi_agent.CdiStack):
    """vc1 (no cards) runs the vmware driver against the simulator; gpu-a is an agent's host
    with a card and the (fake) remoting backend, in the same fabric as the ESXi hosts."""

    def __init__(self, db_url, hosts, work, vcenter_url):
        super().__init__(db_url, hosts, work)
        self.vcenter_url = vcenter_url
        self.conf.set_override('consumer_locate_timeout', 2, group='api')

    def agent_conf(self, name, fabric, devices, health_file=None):
        conf = super().agent_conf(name, fabric, devices, health_file)
        if name == 'vc1':
            conf.set_override('enabled', ['vmware'], group='platforms')
            vcsim_mod.configure_agent(conf, self.vcenter_url)
        return conf


def test_a_vm_gets_its_hosts_card_else_a_remote_one_never_another_esxi_hosts(
        mysql_db, tmp_path, vcsim_binary):
    """Through the whole service, 2 ESXi hosts: the VM's vGPUs go on its own ESXi host's cards
    while they fit (although the other ESXi host's are free), then to gpu-a remotely (lease in
    guestinfo, no device); a local one is refused then, an unknown VM is a 400, a silent vCenter
    agent a 503."""
    sim = vcsim_mod.Simulator(vcsim_binary, '-hosts', '2')
    stack = _VsphereStack(mysql_db.url, [('vc1', 'fab-vs', ''),
                                         ('gpu-a', 'fab-vs', 'nvidia:A100-PCIE-40GB:40960:108:1')],
                          str(tmp_path), sim.url).start()
    try:
        stack.wait_for(lambda: {'DC0_C0_H0', 'DC0_C0_H1'} <= {
            h['name'] for h in stack.client.get('/v1/hosts').json['hosts']}, 'the ESXi hosts')
        vm = test_vmware._vm(sim, 'DC0_C0_RP0_VM0')
        assert vm.runtime.host.name == 'DC0_C0_H1'
        vim_task.WaitForTask(vm.PowerOffVM_Task())
        consumer = {'platform': 'vmware', 'host': 'vc1', 'id': vm._moId}

        def post(**body):
            return stack.client.post('/v1/vgpus', {'consumer': consumer, **body})

        # Two whole cards: H1's two, although H0's and gpu-a's are as free.
        local = []
        for _ in range(2):
            resp = post(compute_percent=100, memory_mb=40960, isolation='hard')
            assert resp.status_int == 201, resp.text
            assert resp.json['slices'][0]['host'] == 'DC0_C0_H1'
            local.append(stack.wait_state(resp.json['uuid'], ('ACTIVE',)))
        assert local[0]['attachment']['consumer_location'] == 'DC0_C0_H1'
        assert local[0]['attachment']['remote'] is None  # local: no lease
        stack.wait_for(lambda: len(test_vmware._vgpus(test_vmware._vm(sim, 'DC0_C0_RP0_VM0')))
                       == 2, 'both vGPU devices on the VM')

        # H1 is full: remote from gpu-a (H0's free cards cannot serve a VM of H1).
        resp = post(compute_percent=20, memory_mb=8192)
        assert resp.status_int == 201, resp.text
        assert resp.json['slices'][0]['host'] == 'gpu-a'
        remote = stack.wait_state(resp.json['uuid'], ('ACTIVE',))
        assert remote['attachment']['consumer_location'] == 'DC0_C0_H1'
        assert remote['attachment']['remote']['endpoints']
        key = 'guestinfo.pooling.vgpu.' + remote['uuid']

        def vm_config():
            return vm_mod.extra_config(test_vmware._vm(sim, 'DC0_C0_RP0_VM0'))
        stack.wait_for(lambda: key in vm_config(), 'the lease in the VM guestinfo')
        assert json.loads(vm_config()[key])['token']
        assert len(test_vmware._vgpus(test_vmware._vm(sim, 'DC0_C0_RP0_VM0'))) == 2

        # Local only: nothing on H1 any more, and the answer says so.
        resp = post(compute_percent=20, memory_mb=8192, isolation='hard', locality='local')
        assert resp.status_int == 409, resp.text
        detail = resp.json['errors'][0]['detail']
        assert 'runs on DC0_C0_H1' in detail and 'consumer host DC0_C0_H1 has no device' in detail

        resp = stack.client.post('/v1/vgpus', {
            'compute_percent': 20, 'memory_mb': 8192,
            'consumer': {'platform': 'vmware', 'host': 'vc1', 'id': 'vm-4242'}})
        assert resp.status_int == 400, resp.text
        assert resp.json['errors'][0]['detail'].startswith(
            'Unknown vmware consumer vm-4242 of vc1: ')
        assert 'does not exist' in resp.json['errors'][0]['detail']

        # The vCenter's agent is gone (a restart): no answer within the bound, nothing held.
        held = stack.client.get('/v1/vgpus').json['vgpus']
        stack.stop_service('vc1')
        resp = post(compute_percent=20, memory_mb=8192)
        assert resp.status_int == 503, resp.text
        assert resp.headers['Retry-After'] == '5'
        assert 'did not say within 2 s' in resp.json['errors'][0]['detail']
        assert stack.client.get('/v1/vgpus').json['vgpus'] == held
    finally:
        stack.stop()
        sim.stop()
