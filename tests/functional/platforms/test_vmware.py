"""The vmware platform against the vCenter simulator (a stand-in for vCenter; see vcsim.py).

What is checked is read back through pyvmomi from the simulator, not from the driver's own
answer: devices, backings, memory reservation, extraConfig.
"""

import dataclasses
import json
import uuid

import pytest
from pyVim import connect
from pyVim import task as vim_task
from pyVmomi import vim

from pooling_drivers.platforms import base
from pooling_drivers.platforms.vmware import driver as vmware
from tests.functional.platforms import vcsim as vcsim_mod

pytestmark = pytest.mark.functional


def _si(sim):
    host, port = sim.url.split('//')[1].split('/')[0].split(':')
    return connect.SmartConnect(host=host, port=int(port), user=vcsim_mod.USER,
                                pwd=vcsim_mod.PASSWORD, protocol='http')


def _vm(sim, name):
    content = _si(sim).RetrieveContent()
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
    return next(v for v in view.view if v.name == name)


def _power_off(vm):
    vim_task.WaitForTask(vm.PowerOffVM_Task())


def _vgpus(vm):
    return [d for d in vm.config.hardware.device
            if isinstance(d, vim.vm.device.VirtualPCIPassthrough)]


def _request(vm, card, memory_mb=8192, compute_milli=200, profile=None, host=None, remote=None,
             vcenter='vc1', vgpu_uuid=None):
    """An ACTIVE vGPU dict with one slice on ``card`` of ``host`` (default: the VM's host)."""
    vgpu = {
        'uuid': vgpu_uuid or str(uuid.uuid4()), 'project_id': 'p1', 'profile': profile,
        'compute_milli': compute_milli, 'memory_mb': memory_mb, 'isolation': 'hard',
        'consumer': {'platform': 'vmware', 'host': vcenter, 'id': vm._moId},
        'slices': [{'index': 0, 'device_uuid': card, 'host': host or vm.runtime.host.name,
                    'compute_milli': compute_milli, 'memory_mb': memory_mb}],
        'attachment': {'slices': [{'isolation': 'hard'}], 'remote': remote}}
    return base.PlatformRequest.from_vgpu(vgpu)


def _card(vm, index=0):
    return vmware.card_uuid(vm.runtime.host, '0000:%02x:00.0' % (0x41 + index))


def test_discover_reads_every_esxi_host_with_its_cards_and_profiles(vcsim):
    driver = vmware.VmwarePlatform(vcsim.options())
    hosts = driver.discover()
    assert sorted(h.name for h in hosts) == ['DC0_C0_H0', 'DC0_C0_H1']
    host = hosts[0]
    assert [d.pci_address for d in host.devices] == ['0000:41:00.0', '0000:42:00.0']
    card = host.devices[0]
    assert (card.vendor, card.model, card.memory_mb, card.isolation) == (
        'nvidia', 'A100-PCIE-40GB', 40960, ('hard',))
    assert len({d.uuid for h in hosts for d in h.devices}) == 4
    shapes = host.profiles[card.uuid]
    assert [p.name for p in shapes] == ['grid_a100-4c', 'grid_a100-8c', 'grid_a100-10c',
                                        'grid_a100-20c', 'grid_a100-40c']
    assert [(p.name, p.memory_mb, p.compute_milli, p.max_instances) for p in shapes][:2] == [
        ('grid_a100-4c', 4096, 100, 10), ('grid_a100-8c', 8192, 200, 5)]


def test_attach_local_adds_the_covering_profile_and_release_removes_exactly_it(vcsim):
    driver = vmware.VmwarePlatform(vcsim.options())
    vm = _vm(vcsim, 'DC0_C0_RP0_VM0')
    _power_off(vm)
    before = [d.key for d in vm.config.hardware.device]
    request = _request(vm, _card(vm), memory_mb=5000, compute_milli=100)

    attachment = driver.attach(request)

    vm = _vm(vcsim, 'DC0_C0_RP0_VM0')
    added = _vgpus(vm)
    assert len(added) == 1
    assert isinstance(added[0].backing, vim.vm.device.VirtualPCIPassthrough.VmiopBackingInfo)
    # 5000 MiB: 8c, 10c, 20c and 40c all cover it; the smallest is taken and the others said.
    assert added[0].backing.vgpu == 'grid_a100-8c'
    assert attachment.details['devices'][0]['candidates'] == [
        'grid_a100-8c', 'grid_a100-10c', 'grid_a100-20c', 'grid_a100-40c']
    assert vm.config.memoryReservationLockedToMax is True
    assert attachment.details['keys'] == [added[0].key]
    # Idempotent: a second attach adds nothing and answers the same.
    assert driver.attach(request) == attachment
    assert len(_vgpus(_vm(vcsim, 'DC0_C0_RP0_VM0'))) == 1

    driver.detach(request, attachment)
    vm = _vm(vcsim, 'DC0_C0_RP0_VM0')
    assert [d.key for d in vm.config.hardware.device] == before
    assert vm.config.memoryReservationLockedToMax is False
    assert not any(k.startswith('pooling.') for k in vmware.vm_mod.extra_config(vm))
    driver.detach(request, attachment)  # already gone: succeeds


def test_detach_without_the_attachment_finds_it_in_the_vm(vcsim):
    driver = vmware.VmwarePlatform(vcsim.options())
    vm = _vm(vcsim, 'DC0_C0_RP0_VM1')
    _power_off(vm)
    request = _request(vm, _card(vm, 1), memory_mb=4096, compute_milli=100)
    driver.attach(request)
    assert [d.backing.vgpu for d in _vgpus(_vm(vcsim, 'DC0_C0_RP0_VM1'))] == ['grid_a100-4c']
    vmware.VmwarePlatform(vcsim.options()).detach(request)  # a restarted service
    assert _vgpus(_vm(vcsim, 'DC0_C0_RP0_VM1')) == []


def test_powered_on_vm_is_refused_and_left_untouched(vcsim):
    driver = vmware.VmwarePlatform(vcsim.options())
    vm = _vm(vcsim, 'DC0_C0_RP0_VM0')
    assert vm.runtime.powerState == 'poweredOn'
    with pytest.raises(base.ConsumerStateError, match='poweredOn.*powered-off VMs only'):
        driver.attach(_request(vm, _card(vm)))
    vm = _vm(vcsim, 'DC0_C0_RP0_VM0')
    assert _vgpus(vm) == []
    assert not vm.config.memoryReservationLockedToMax


@pytest.mark.parametrize('profile,options,match', [
    ('grid_a100-12c', {}, "'grid_a100-12c' is not offered by ESXi host"),
    ('gold', {'profile_map': {'gold': 'grid_t4-16q'}}, "'grid_t4-16q' is not offered"),
    ('grid_a100-4c', {}, 'smaller than the slice'),
])
def test_a_wrong_profile_is_refused_by_our_validation(vcsim, profile, options, match):
    # The simulator would take any string as a vGPU profile: the refusal is the driver's.
    driver = vmware.VmwarePlatform({**vcsim.options(), **options})
    vm = _vm(vcsim, 'DC0_C0_RP0_VM0')
    _power_off(vm)
    with pytest.raises(base.InvalidRequestError, match=match):
        driver.attach(_request(vm, _card(vm), memory_mb=8192, profile=profile))
    assert _vgpus(_vm(vcsim, 'DC0_C0_RP0_VM0')) == []


def test_a_shape_no_profile_covers_is_refused(vcsim):
    driver = vmware.VmwarePlatform(vcsim.options())
    vm = _vm(vcsim, 'DC0_C0_RP0_VM0')
    _power_off(vm)
    with pytest.raises(base.InvalidRequestError, match='no c-class vGPU profile'):
        driver.attach(_request(vm, _card(vm), memory_mb=50000, compute_milli=900))


def test_remote_vgpu_goes_to_the_guest_through_guestinfo(vcsim):
    driver = vmware.VmwarePlatform(vcsim.options())
    vm = _vm(vcsim, 'DC0_C0_RP0_VM0')  # running: a lease needs no power-off
    lease = {'protocol': 'sim', 'endpoints': ['gpu-a:14833'], 'token': 'tok-123'}
    request = _request(vm, str(uuid.uuid4()), host='gpu-a', remote=lease)  # a pool host

    attachment = driver.attach(request)

    config = vmware.vm_mod.extra_config(_vm(vcsim, 'DC0_C0_RP0_VM0'))
    assert json.loads(config['guestinfo.pooling.vgpu.' + request.vgpu_uuid]) == lease
    assert config['guestinfo.pooling.vgpus'] == request.vgpu_uuid
    assert _vgpus(_vm(vcsim, 'DC0_C0_RP0_VM0')) == []
    assert attachment.details['mode'] == 'remote'
    driver.detach(request, attachment)
    config = vmware.vm_mod.extra_config(_vm(vcsim, 'DC0_C0_RP0_VM0'))
    assert not any(k.startswith(('guestinfo.pooling', 'pooling.')) for k in config)


def test_a_moved_remote_vgpu_rewrites_the_guest_lease(vcsim):
    # Failover re-places a remote vGPU and issues its lease anew: attaching again must give
    # the guest the new endpoints, not keep the document of the dead host.
    driver = vmware.VmwarePlatform(vcsim.options())
    vm = _vm(vcsim, 'DC0_C0_RP0_VM0')
    vgpu = str(uuid.uuid4())
    first = {'protocol': 'sim', 'endpoints': ['gpu-a:14833'], 'token': 'tok-1'}
    driver.attach(_request(vm, str(uuid.uuid4()), host='gpu-a', remote=first, vgpu_uuid=vgpu))
    moved = {'protocol': 'sim', 'endpoints': ['gpu-b:14833'], 'token': 'tok-2'}
    request = _request(_vm(vcsim, 'DC0_C0_RP0_VM0'), str(uuid.uuid4()), host='gpu-b',
                       remote=moved, vgpu_uuid=vgpu)
    attachment = driver.attach(request)
    config = vmware.vm_mod.extra_config(_vm(vcsim, 'DC0_C0_RP0_VM0'))
    assert json.loads(config['guestinfo.pooling.vgpu.' + vgpu]) == moved
    assert config['guestinfo.pooling.vgpus'] == vgpu
    assert driver.attach(request).details == attachment.details  # unchanged: no rewrite
    driver.detach(request, attachment)
    config = vmware.vm_mod.extra_config(_vm(vcsim, 'DC0_C0_RP0_VM0'))
    assert not any(k.startswith(('guestinfo.pooling', 'pooling.')) for k in config)


def test_the_lease_with_its_credential_wins_over_a_repair_without_one(vcsim):
    """The periodic sync knows no credential: its repair may come first, the attach second."""
    driver = vmware.VmwarePlatform(vcsim.options())
    vm = _vm(vcsim, 'DC0_C0_RP0_VM0')
    lease = {'protocol': 'sim', 'endpoints': ['gpu-a:14833'], 'token': 'tok-123'}
    attach = _request(vm, str(uuid.uuid4()), host='gpu-a', remote=lease)
    without = {k: v for k, v in lease.items() if k != 'token'}  # what the pool keeps
    synced = _request(vm, str(uuid.uuid4()), host='gpu-a', remote=without)
    synced = dataclasses.replace(synced, vgpu_uuid=attach.vgpu_uuid)
    key = 'guestinfo.pooling.vgpu.' + attach.vgpu_uuid

    def seen():
        return json.loads(vmware.vm_mod.extra_config(_vm(vcsim, 'DC0_C0_RP0_VM0'))[key])

    assert [d.action for d in driver.reconcile([synced])] == ['repaired']
    assert seen() == without
    driver.attach(attach)
    assert seen() == lease
    driver.attach(synced)  # a later repair without the credential leaves it
    assert driver.reconcile([synced]) == [] and seen() == lease
    driver.detach(attach)


def test_a_card_of_another_esxi_host_is_refused(vcsim):
    # An ESXi host runs no remoting server: its cards serve its own VMs only.
    driver = vmware.VmwarePlatform(vcsim.options())
    vm = _vm(vcsim, 'DC0_C0_RP0_VM0')
    other = 'DC0_C0_H1' if vm.runtime.host.name == 'DC0_C0_H0' else 'DC0_C0_H0'
    lease = {'protocol': 'sim', 'endpoints': [other + ':14833'], 'token': 't'}
    with pytest.raises(base.ConsumerStateError, match='migrate the VM there'):
        driver.attach(_request(vm, str(uuid.uuid4()), host=other, remote=lease))
    assert not any(k.startswith('guestinfo.pooling')
                   for k in vmware.vm_mod.extra_config(_vm(vcsim, 'DC0_C0_RP0_VM0')))


def test_remote_without_a_lease_is_refused(vcsim):
    driver = vmware.VmwarePlatform(vcsim.options())
    vm = _vm(vcsim, 'DC0_C0_RP0_VM0')
    with pytest.raises(base.InvalidRequestError, match='no remote lease'):
        driver.attach(_request(vm, str(uuid.uuid4()), host='gpu-elsewhere'))


def test_whole_card_goes_as_directpath(vcsim_binary):
    sim = vcsim_mod.Simulator(vcsim_binary, '-passthru', '0000:42:00.0')
    try:
        driver = vmware.VmwarePlatform(sim.options())
        vm = _vm(sim, 'DC0_C0_RP0_VM0')
        _power_off(vm)
        host = next(h for h in driver.discover() if h.name == vm.runtime.host.name)
        card = host.devices[1]
        assert [(p.name, p.compute_milli) for p in host.profiles[card.uuid]] == [
            ('directpath', 1000)]
        with pytest.raises(base.InvalidRequestError, match='whole-card vGPUs only'):
            driver.attach(_request(vm, card.uuid, memory_mb=4096, compute_milli=100))
        request = _request(vm, card.uuid, memory_mb=40960, compute_milli=1000)
        attachment = driver.attach(request)
        [device] = _vgpus(_vm(sim, 'DC0_C0_RP0_VM0'))
        backing = device.backing
        assert isinstance(backing, vim.vm.device.VirtualPCIPassthrough.DeviceBackingInfo)
        assert (backing.id, backing.vendorId, backing.deviceId) == ('0000:42:00.0', 0x10de, '20f1')
        driver.detach(request, attachment)
        assert _vgpus(_vm(sim, 'DC0_C0_RP0_VM0')) == []
    finally:
        sim.stop()


def test_whole_card_on_vsphere_7_is_dynamic_directpath(vcsim_binary):
    sim = vcsim_mod.Simulator(vcsim_binary, '-passthru', '0000:41:00.0',
                              '-api-version', '7.0.3.0')
    try:
        driver = vmware.VmwarePlatform(sim.options())
        vm = _vm(sim, 'DC0_C0_RP0_VM1')
        _power_off(vm)
        driver.attach(_request(vm, _card(vm, 0), memory_mb=40960, compute_milli=1000))
        [device] = _vgpus(_vm(sim, 'DC0_C0_RP0_VM1'))
        backing = device.backing
        assert isinstance(backing, vim.vm.device.VirtualPCIPassthrough.DynamicBackingInfo)
        assert [(a.vendorId, a.deviceId) for a in backing.allowedDevice] == [(0x10de, 0x20f1)]
    finally:
        sim.stop()


def test_reconciler_finds_drifted_devices_strays_and_foreign_vgpus(vcsim):
    driver = vmware.VmwarePlatform(vcsim.options())
    vm0, vm1 = _vm(vcsim, 'DC0_C0_RP0_VM0'), _vm(vcsim, 'DC0_C0_RP0_VM1')
    _power_off(vm0)
    _power_off(vm1)
    kept = _request(vm0, _card(vm0), memory_mb=4096, compute_milli=100)
    released = _request(vm1, _card(vm1), memory_mb=4096, compute_milli=100)
    attachment = driver.attach(kept)
    driver.attach(released)
    # By hand, outside the pool: add a vGPU to VM0, then remove the pool's.
    vm0 = _vm(vcsim, 'DC0_C0_RP0_VM0')
    [ours] = _vgpus(vm0)
    foreign = vim.vm.device.VirtualPCIPassthrough(
        key=-1, backing=vim.vm.device.VirtualPCIPassthrough.VmiopBackingInfo(vgpu='grid_a100-20c'))
    vim_task.WaitForTask(vm0.ReconfigVM_Task(vim.vm.ConfigSpec(deviceChange=[
        vim.vm.device.VirtualDeviceSpec(operation='add', device=foreign)])))
    vim_task.WaitForTask(vm0.ReconfigVM_Task(vim.vm.ConfigSpec(deviceChange=[
        vim.vm.device.VirtualDeviceSpec(operation='remove', device=ours)])))

    drifts = driver.reconcile([kept])  # `released` is no longer ACTIVE

    problems = {(d.vgpu_uuid, d.action): d.problem for d in drifts}
    assert 'is now gone' in problems[(kept.vgpu_uuid, 'reported')]
    assert str(attachment.details['keys'][0]) in problems[(kept.vgpu_uuid, 'reported')]
    assert 'no longer has ACTIVE' in problems[(released.vgpu_uuid, 'repaired')]
    assert 'grid_a100-20c' in problems[('', 'reported')]
    assert _vgpus(_vm(vcsim, 'DC0_C0_RP0_VM1')) == []  # the stray was removed
    assert len(drifts) == 3


def test_wrong_credentials_are_a_clear_error(vcsim):
    options = vcsim.options()
    options['vcenters']['vc1']['password'] = 'wrong'
    driver = vmware.VmwarePlatform(options)
    with pytest.raises(base.PlatformUnavailableError,
                       match="refused the credentials of user 'pool'"):
        driver.discover()


def test_vcenter_down_is_a_clear_error(vcsim):
    options = vcsim.options()
    vcsim.stop()
    driver = vmware.VmwarePlatform(options)
    with pytest.raises(base.PlatformUnavailableError, match='vc1 at .* unreachable'):
        driver.discover()
    request = base.PlatformRequest.from_vgpu({
        'uuid': str(uuid.uuid4()), 'consumer': {'platform': 'vmware', 'host': 'vc1', 'id': 'vm-1'},
        'slices': [{'index': 0, 'device_uuid': 'd', 'host': 'h'}]})
    with pytest.raises(base.PlatformUnavailableError):
        driver.attach(request)
    # The reconciler does not fail: it reports the vCenter's vGPUs as unseen, nothing more.
    assert driver.reconcile([request]) == []


def test_unknown_vcenter_is_refused_before_any_call():
    driver = vmware.VmwarePlatform({'vcenters': {}})
    request = base.PlatformRequest.from_vgpu({
        'uuid': 'u', 'consumer': {'platform': 'vmware', 'host': 'vc9', 'id': 'vm-1'},
        'slices': [{'index': 0, 'device_uuid': 'd', 'host': 'h'}]})
    with pytest.raises(base.InvalidRequestError, match="'vc9' is not a configured vCenter"):
        driver.attach(request)


def test_tls_is_verified_by_default(vcsim_binary, tmp_path):
    ca, cert, key = vcsim_mod.make_certs(tmp_path)
    sim = vcsim_mod.Simulator(vcsim_binary, '-tls-cert', cert, '-tls-key', key)
    try:
        assert sim.url.startswith('https://')
        with pytest.raises(base.PlatformUnavailableError, match='certificate not trusted'):
            vmware.VmwarePlatform(sim.options()).discover()
        assert len(vmware.VmwarePlatform(sim.options(ca_file=ca)).discover()) == 2
        assert len(vmware.VmwarePlatform(sim.options(insecure=True)).discover()) == 2
    finally:
        sim.stop()


def test_an_expired_session_is_reopened(vcsim):
    driver = vmware.VmwarePlatform(vcsim.options())
    assert len(driver.discover()) == 2
    vc = driver.vcenters['vc1']
    vc._si.content.sessionManager.Logout()  # as vCenter does when a session times out
    assert len(driver.discover()) == 2
    vm = _vm(vcsim, 'DC0_C0_RP0_VM1')
    vc._si.content.sessionManager.Logout()
    assert vc.find_vm(vm._moId).name == 'DC0_C0_RP0_VM1'


def test_locate_answers_the_esxi_host_the_vm_runs_on(vcsim):
    driver = vmware.VmwarePlatform(vcsim.options())
    for name in ('DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1'):
        vm = _vm(vcsim, name)
        assert driver.locate(base.Consumer('vmware', 'vc1', vm._moId)) == vm.runtime.host.name
        assert driver.locate(base.Consumer('vmware', 'vc1', vm.config.instanceUuid)) == (
            vm.runtime.host.name)
    assert {driver.locate(base.Consumer('vmware', 'vc1', _vm(vcsim, n)._moId))
            for n in ('DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1')} == {'DC0_C0_H0', 'DC0_C0_H1'}
    with pytest.raises(base.ConsumerNotFoundError, match='vm-4242'):
        driver.locate(base.Consumer('vmware', 'vc1', 'vm-4242'))
    with pytest.raises(base.ConsumerNotFoundError, match='no VM with instance uuid'):
        driver.locate(base.Consumer('vmware', 'vc1', str(uuid.uuid4())))
    with pytest.raises(base.InvalidRequestError, match='moref'):
        driver.locate(base.Consumer('vmware', 'vc1', 'web'))
