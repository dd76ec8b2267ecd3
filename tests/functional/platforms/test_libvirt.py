"""The libvirt platform against libvirt's own test driver (``test:///<node file>``: the real
domain XML parser, node devices with ``mdev_types``) and a fake kernel vGPU tree
(fake_kernel.py). libvirt-python comes from tools/ci-deps.sh (built against libvirt-dev).
"""

import dataclasses
import json
import shutil
import subprocess
import textwrap
import uuid

import pytest

from pooling_drivers.platforms import base
from pooling_drivers.platforms.libvirt import domain as dom_mod
from pooling_drivers.platforms.libvirt import driver as lv
from tests.unit.platforms import fake_kernel

libvirt = pytest.importorskip('libvirt', reason='libvirt-python not installed (tools/ci-deps.sh)')

DOMAIN = '6695eb01-f6a4-8304-79aa-97f2502e193f'
HOST = 'kvm-1'
QEMU = 'qemu-system-x86_64'


def _node_file(tmp_path):
    types = ''.join(
        f"<type id='{tid}'><name>{name}</name><deviceAPI>vfio-pci</deviceAPI>"
        f"<availableInstances>{count}</availableInstances></type>"
        for tid, (name, count) in fake_kernel.TYPES.items())
    path = tmp_path / 'node.xml'
    path.write_text(textwrap.dedent(f"""\
        <node>
          <domain type='test'>
            <name>guest1</name><uuid>{DOMAIN}</uuid>
            <memory>1048576</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os>
          </domain>
          <device>
            <name>pci_0000_41_00_0</name><parent>computer</parent>
            <capability type='pci'>
              <class>0x030200</class><domain>0</domain><bus>65</bus><slot>0</slot>
              <function>0</function>
              <product id='0x20f1'>GA100 [A100 PCIe 40GB]</product>
              <vendor id='0x10de'>NVIDIA Corporation</vendor>
              <capability type='mdev_types'>{types}</capability>
            </capability>
          </device>
        </node>"""))
    return path


@pytest.fixture
def kernel(tmp_path):
    fake_kernel.build(tmp_path / 'root')
    return fake_kernel.FakeKernel(str(tmp_path / 'root'))


@pytest.fixture
def driver(tmp_path, kernel):
    d = lv.LibvirtPlatform({'uri': 'test://' + str(_node_file(tmp_path)), 'sysfs': kernel,
                            'pci_addresses': {'sim-card-2': fake_kernel.VF_CARD}})
    return d


def _dom(driver, running=False):
    dom = driver._connect().lookupByUUIDString(DOMAIN)
    if dom.isActive() and not running:
        dom.destroy()
    return dom


def _xml(dom):
    return dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)


def _request(device_uuid=fake_kernel.MDEV_GPU_UUID, memory_mb=8192, compute_milli=200,
             host=HOST, remote=None, profile=None):
    return base.PlatformRequest.from_vgpu({
        'uuid': str(uuid.uuid4()), 'profile': profile,
        'consumer': {'platform': 'libvirt', 'host': HOST, 'id': DOMAIN},
        'slices': [{'index': 0, 'device_uuid': device_uuid, 'host': host,
                    'compute_milli': compute_milli, 'memory_mb': memory_mb}],
        'attachment': {'slices': [{}], 'remote': remote}})


def test_shut_off_domain_gets_an_mdev_of_the_covering_type_and_release_undoes_it(driver, kernel):
    dom = _dom(driver)
    request = _request(memory_mb=6000, compute_milli=150)

    attachment = driver.attach(request)

    [mdev] = kernel.mdevs()
    assert kernel.read('sys/bus/mdev/devices', mdev, 'mdev_type') == 'nvidia-472'  # A100-8C
    assert kernel.read('sys/class/mdev_bus', fake_kernel.MDEV_CARD, 'mdev_supported_types',
                       'nvidia-472', 'available_instances') == '4'
    hostdevs = dom_mod.hostdevs(_xml(dom))
    [(name, xml)] = hostdevs.items()
    assert name == f'ua-pooling-{request.vgpu_uuid}-0'
    assert "type='mdev'" in xml.replace('"', "'") and mdev in xml
    assert attachment.handle == name
    assert driver.attach(request) == attachment  # idempotent
    assert len(kernel.mdevs()) == 1

    driver.detach(request, attachment)
    assert kernel.mdevs() == []
    assert dom_mod.hostdevs(_xml(dom)) == {}
    assert driver._records(dom) == {}
    driver.detach(request, attachment)  # already gone


def test_detach_after_a_restart_finds_the_record_in_the_domain(driver, kernel, tmp_path):
    _dom(driver)
    request = _request(memory_mb=4096, compute_milli=100)
    driver.attach(request)
    again = lv.LibvirtPlatform({'uri': driver.uri, 'sysfs': kernel})
    again._conn = driver._conn  # the test driver's state lives in its connection
    again.detach(request)
    assert kernel.mdevs() == []
    assert dom_mod.hostdevs(_xml(_dom(driver))) == {}


def test_running_domain_that_cannot_hot_plug_is_refused_and_nothing_is_left(driver, kernel):
    dom = _dom(driver, running=True)
    assert dom.isActive()
    with pytest.raises(base.ConsumerStateError, match='could not be hot-plugged'):
        driver.attach(_request())
    assert kernel.mdevs() == []
    assert dom_mod.hostdevs(_xml(dom)) == {}


def test_whole_card_goes_as_pci(driver, kernel):
    dom = _dom(driver)
    driver.attach(_request(memory_mb=40960, compute_milli=1000))
    [xml] = dom_mod.hostdevs(_xml(dom)).values()
    assert "type='pci'" in xml.replace('"', "'") and "bus='0x41'" in xml.replace('"', "'")
    assert kernel.mdevs() == []


def test_vgpu_type_framework_on_sriov_vfs(driver, kernel):
    dom = _dom(driver)
    request = _request(device_uuid='sim-card-2', memory_mb=4096, compute_milli=100)
    attachment = driver.attach(request)
    vf = '0000:42:00.4'
    assert kernel.read('sys/bus/pci/devices', vf, 'nvidia/current_vgpu_type') == '471'
    [xml] = dom_mod.hostdevs(_xml(dom)).values()
    assert "slot='0x00' function='0x4'" in xml.replace('"', "'")
    driver.detach(request, attachment)
    assert kernel.read('sys/bus/pci/devices', vf, 'nvidia/current_vgpu_type') == '0'


def test_a_reused_vf_is_not_cleared_by_a_late_release(kernel):
    from pooling_drivers.platforms.libvirt import sysfs
    framework = sysfs.VgpuTypeFramework(kernel)
    created = framework.create(fake_kernel.VF_CARD, '472', '')
    kernel.write('0', 'sys/bus/pci/devices', created.ident, 'nvidia/current_vgpu_type')
    kernel.write('471', 'sys/bus/pci/devices', created.ident, 'nvidia/current_vgpu_type')
    framework.remove(created)  # ours was 472: the VF now serves someone else's 471
    assert kernel.read('sys/bus/pci/devices', created.ident, 'nvidia/current_vgpu_type') == '471'


def test_remote_vgpu_goes_into_the_firmware_config(driver, kernel):
    dom = _dom(driver)
    lease = {'protocol': 'sim', 'endpoints': ['gpu-a:14833'], 'token': 't'}
    request = _request(host='gpu-a', remote=lease)
    attachment = driver.attach(request)
    xml = _xml(dom)
    assert "<sysinfo type='fwcfg'>" in xml
    [(name, value)] = dom_mod.fwcfg_entries(xml).items()
    assert name == f'opt/org.openstack/{request.vgpu_uuid}' and json.loads(value) == lease
    assert len(name) <= 55  # QEMU: "name too long (max. 55 char)", and the domain won't start
    assert kernel.mdevs() == [] and dom_mod.hostdevs(xml) == {}
    driver.detach(request, attachment)
    assert 'fwcfg' not in _xml(dom)


@pytest.mark.skipif(not shutil.which(QEMU), reason=f'no {QEMU} here')
def test_qemu_starts_with_the_firmware_config_we_write(driver, tmp_path):
    """QEMU itself (paused, no disk) takes every fw_cfg entry as libvirt passes it."""
    dom = _dom(driver)
    for _ in range(2):
        driver.attach(_request(host='gpu-a', remote={'protocol': 'sim', 'token': 't',
                                                     'endpoints': ['gpu-a:1', 'gpu-b:2']}))
    args = []
    for name, value in dom_mod.fwcfg_entries(_xml(dom)).items():
        # NOTE: libvirt doubles the commas of a -fw_cfg string for QEMU's option parser.
        args += ['-fw_cfg', f'name={name},string={value.replace(",", ",,")}']
    assert len(args) == 4
    proc = subprocess.run([QEMU, '-machine', 'pc', '-accel', 'tcg', '-S', '-display', 'none',
                           '-nodefaults', '-serial', 'none', '-monitor', 'stdio', *args],
                          input='quit\n', capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_reconcile_moves_a_lease_from_a_name_qemu_refuses(driver):
    dom = _dom(driver)
    request = _request(host='gpu-a', remote={'protocol': 'sim', 'endpoints': ['gpu-a:1'],
                                             'token': 't'})
    driver.attach(request)
    # As an earlier release wrote it: 62 characters, and the domain would not start.
    old, new = f'opt/org.openstack.pooling/{request.vgpu_uuid}', dom_mod.fwcfg_name(
        request.vgpu_uuid)
    value = dom_mod.fwcfg_entries(_xml(dom))[new]
    driver._connect().defineXML(dom_mod.edit(_xml(dom), fwcfg={new: None, old: value}))
    driver._save(dom, request.vgpu_uuid, dict(driver._records(dom)[request.vgpu_uuid],
                                              fwcfg=[old]))
    # The sync brings the vGPU without its credential: the lease moves, it is not rewritten.
    synced = dataclasses.replace(request, remote=dataclasses.replace(request.remote, token='',
                                                                     document={}))

    [drift] = driver.reconcile([synced])

    assert (drift.vgpu_uuid, drift.action, drift.handle) == (request.vgpu_uuid, 'repaired', new)
    assert dom_mod.fwcfg_entries(_xml(dom)) == {new: value}
    assert driver._records(dom)[request.vgpu_uuid]['fwcfg'] == [new]
    assert driver.reconcile([synced]) == []
    driver.detach(request)
    assert 'fwcfg' not in _xml(dom)


def test_the_lease_with_its_credential_wins_over_a_repair_without_one(driver):
    """The periodic sync knows no credential: its repair may come first, the attach second."""
    dom = _dom(driver)
    lease = {'protocol': 'sim', 'endpoints': ['gpu-a:1'], 'token': 't'}
    attach = _request(host='gpu-a', remote=lease)
    without = {k: v for k, v in lease.items() if k != 'token'}  # what the pool keeps
    synced = dataclasses.replace(attach, remote=base.RemoteLease.from_dict(without))
    name = dom_mod.fwcfg_name(attach.vgpu_uuid)

    def seen():
        return json.loads(dom_mod.fwcfg_entries(_xml(dom))[name])

    assert [d.action for d in driver.reconcile([synced])] == ['repaired']
    assert seen() == without
    driver.attach(attach)
    assert seen() == lease
    driver.attach(synced)  # a later repair without the credential leaves it
    assert driver.reconcile([synced]) == [] and seen() == lease
    driver.detach(attach)
    assert 'fwcfg' not in _xml(dom)


def test_a_type_the_card_lacks_is_refused(driver, kernel):
    _dom(driver)
    driver.type_map = {'gold': 'nvidia-999'}
    with pytest.raises(base.InvalidRequestError, match="'nvidia-999' is not offered"):
        driver.attach(_request(profile='gold'))
    with pytest.raises(base.InvalidRequestError, match='no c-class vGPU profile'):
        driver.attach(_request(memory_mb=50000, compute_milli=900))
    assert kernel.mdevs() == []


def test_unknown_domain_and_bad_ids(driver):
    request = base.PlatformRequest.from_vgpu({
        'uuid': str(uuid.uuid4()),
        'consumer': {'platform': 'libvirt', 'host': HOST, 'id': str(uuid.uuid4())},
        'slices': [{'index': 0, 'device_uuid': 'x', 'host': HOST}]})
    with pytest.raises(base.ConsumerNotFoundError):
        driver.attach(request)
    bad = base.PlatformRequest.from_vgpu({
        'uuid': 'u', 'consumer': {'platform': 'libvirt', 'host': HOST, 'id': 'guest1'},
        'slices': [{'index': 0, 'device_uuid': 'x', 'host': HOST}]})
    with pytest.raises(base.InvalidRequestError, match='domain uuid'):
        driver.attach(bad)


def test_reconciler_removes_strays_and_reports_lost_hostdevs(driver, kernel):
    dom = _dom(driver)
    kept, stray = _request(memory_mb=4096, compute_milli=100), _request(memory_mb=4096,
                                                                         compute_milli=100)
    driver.attach(kept)
    driver.attach(stray)
    assert len(kernel.mdevs()) == 2
    # By hand: remove the kept vGPU's hostdev from the definition.
    driver._connect().defineXML(dom_mod.edit(_xml(dom), remove=[dom_mod.alias(kept.vgpu_uuid, 0)]))

    drifts = driver.reconcile([kept])

    assert {(d.vgpu_uuid, d.action) for d in drifts} == {(kept.vgpu_uuid, 'reported'),
                                                         (stray.vgpu_uuid, 'repaired')}
    assert len(kernel.mdevs()) == 1
    assert list(driver._records(dom)) == [kept.vgpu_uuid]
