"""One card, every cloud: one simulated A100 serves five consumers at once from one set of books.

The whole service runs (MariaDB, RabbitMQ, conductor, agents, API); around it, a stand-in for
each platform:

* **Nova** -- the route a Nova server's accelerator takes, with Cyborg and Nova played by the
  in-memory stand-in of tests/functional/cyborg/fakes.py (the real ones run in tests/openstack,
  too slow for this stage): the pool's Cyborg sync (``sync.run_once``, the pass the conductor
  runs, called here with the running conductor) publishes the profile as a device profile, the
  slots view (``GET /v1/slots?host=``, what our Cyborg driver reports to Placement) offers it on
  the card's host, the stand-in binds an ARQ for a server there, the pass turns the bound ARQ
  into the vGPU, and Nova's vendordata request (``POST /v1/vendordata``, as Nova's metadata
  service sends it) answers it for the instance; deleting the server deletes the ARQ and the
  next pass releases the vGPU. There is no Placement here: Nova's scheduling is the test
  reading the slots view, and the pass's Placement step only logs that it cannot reach one
  (tests/functional/cyborg/test_placement.py runs it against a real Placement);
* **a container** -- the agent's ``cdi`` driver writes its CDI spec and podman runs a container
  with it (where podman, runc and root are there: tests/functional/platforms/podman_rig.py);
* **a Kubernetes pod** -- the fake kubelet (the real gRPC peer) calls NodePrepareResources on our
  DRA kubelet plugin, which reads the claim's allocation from a stand-in claim reader (no API
  server here), makes its vGPU through the pool's API and answers the CDI device id;
* **a vSphere VM** -- the agent named after the vCenter runs the ``vmware`` driver against the
  vCenter simulator (vcsim.py); the card is not on the VM's ESXi host, so the VM gets the lease
  in ``guestinfo``;
* **a libvirt domain** -- the card's agent runs the ``libvirt`` driver on libvirt's test driver
  and a fake kernel tree; the domain gets an mdev hostdev.

Then ``/v1/usage`` (microversion 1.2) and the real ``openstack accelerator pool usage
--by-platform`` (a subprocess against the API served over HTTP) show the card split by platform;
one more vGPU is refused by every route (for Nova: the slots view offers none, and an ARQ bound
anyway -- Placement's inventory lags the pool -- is recorded as a vGPU in ERROR holding nothing);
releasing each consumer returns exactly its share.
"""

import json
import os
from pathlib import Path
import shutil
import subprocess
import sys
import tempfile
import threading
import uuid
from wsgiref import simple_server

import pytest

from pooling import context as pooling_context
from pooling.conf import libvirt as libvirt_conf
from pooling.cyborg import opts as cyborg_opts
from pooling.cyborg import sync as cyborg_sync
from pooling_drivers.platforms import cdi
from pooling_drivers.platforms.kubernetes import claims as k8s_claims
from pooling_drivers.platforms.kubernetes import kubelet_plugin
from pooling_drivers.platforms.kubernetes import model as k8s_model
from pooling_drivers.platforms.kubernetes import platform as k8s_platform
from pooling_drivers.platforms.libvirt import domain as dom_mod
from pooling_drivers.platforms.vmware import vm as vm_mod
from tests.functional.cyborg import fakes as cyborg_fakes
from tests.functional.platforms import podman_rig
from tests.functional.platforms import test_cdi_agent
from tests.functional.platforms import test_libvirt
from tests.functional.platforms import test_vmware
from tests.functional.platforms import vcsim as vcsim_mod
from tests.unit.platforms import fake_kernel
from tests.unit.platforms.k8s import fake_kubelet

libvirt = pytest.importorskip('libvirt', reason='libvirt-python not installed (tools/ci-deps.sh)')
pytestmark = pytest.mark.functional

MODEL = 'A100-PCIE-40GB'
HOSTS = [('gpu-a', 'fab-1', f'nvidia:{MODEL}:40960:108:1'), ('vc1', 'fab-1', '')]
V11 = {'OpenStack-API-Version': 'accelerator-pool 1.2'}
FIFTH = {'compute_percent': 20.0, 'memory_mb': 8192}
PLATFORMS = ('container', 'kubernetes', 'libvirt', 'nova', 'vmware')
OPENSTACK = shutil.which('openstack', path=str(Path(sys.executable).parent)) or 'openstack'


class EveryCloudStack(test_cdi_agent.CdiStack):
    """gpu-a runs cdi and libvirt; vc1 (no cards) runs vmware against the simulator."""

    def __init__(self, db_url, hosts, work, vcenter_url):
        super().__init__(db_url, hosts, work)
        self.vcenter_url = vcenter_url

    def agent_conf(self, name, fabric, devices, health_file=None):
        conf = super().agent_conf(name, fabric, devices, health_file)
        if name == 'gpu-a':
            libvirt_conf.register_opts(conf)
            conf.set_override('enabled', ['cdi', 'libvirt'], group='platforms')
            conf.set_override('uri', 'test://' + os.path.join(self.work, 'node.xml'), 'libvirt')
            conf.set_override('sysfs_root', os.path.join(self.work, 'kernel'), 'libvirt')
        else:
            conf.set_override('enabled', ['vmware'], group='platforms')
            vcsim_mod.configure_agent(conf, self.vcenter_url)
        return conf

    def platform_driver(self, host, name):
        endpoint = self.services[host].extra_endpoints[0]
        return next(d for d in endpoint.drivers if d.name == name)


class NovaByCyborg:
    """Nova's route to the pool: Cyborg's stand-in, the pool's Cyborg sync pass, vendordata."""

    def __init__(self, stack):
        self.stack = stack
        self.conf = cyborg_opts.ensure(stack.conf)
        self.conf.set_override('enabled', True, group='cyborg')
        self.cyborg = cyborg_fakes.FakeCyborg()
        self.project = uuid.uuid4().hex

    def sync(self) -> dict:
        """One pass of the conductor's Cyborg sync (publish, reconcile ARQs)."""
        return cyborg_sync.run_once(pooling_context.get_admin_context(), self.conf,
                                    conductor=self.stack.services['conductor'].endpoint,
                                    cyborg=self.cyborg)

    def slot(self, host='gpu-a') -> dict:
        """What our Cyborg driver reports for ``fifth`` on ``host``."""
        resp = self.stack.client.get('/v1/slots?host=' + host)
        assert resp.status_int == 200, resp.text
        [slot] = [s for s in resp.json['slots'] if s['profile'] == 'fifth']
        return slot

    def vendordata(self, arq) -> dict:
        """What Nova's metadata service gets for the server (DynamicJSON, service token)."""
        body = {'project-id': arq['project_id'], 'instance-id': arq['instance_uuid'],
                'image-id': str(uuid.uuid4()), 'user-data': None, 'hostname': 'vm-1',
                'metadata': {}, 'boot-roles': 'member,reader'}
        resp = self.stack.client.as_('service', 'service').post(
            '/v1/vendordata', body, headers={'Accept': 'application/json'})
        assert resp.status_int == 200, resp.text
        return resp.json


class QuietHandler(simple_server.WSGIRequestHandler):
    def log_message(self, *args):
        pass


def _cli_usage_by_platform(stack) -> list:
    """``openstack accelerator pool usage --by-platform`` against the API over HTTP."""
    httpd = simple_server.make_server('127.0.0.1', 0, stack.app, handler_class=QuietHandler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    env = {k: v for k, v in os.environ.items() if not k.startswith('OS_')}
    try:
        proc = subprocess.run(
            [OPENSTACK, '--os-auth-type', 'none', '--os-endpoint',
             'http://127.0.0.1:%d' % httpd.server_port, 'accelerator', 'pool', 'usage',
             '--by-platform', '-f', 'json'], capture_output=True, text=True, env=env,
            timeout=120)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


class InProcessPool:
    """The part of poolingclient's Client the kubelet plugin uses, over the in-process API."""

    def __init__(self, client):
        self.client = client

    def list_vgpus(self, consumer_platform=None, consumer_id=None):
        return self.client.get(f'/v1/vgpus?consumer_platform={consumer_platform}'
                               f'&consumer_id={consumer_id}').json['vgpus']

    def create_vgpu(self, **body):
        resp = self.client.request('POST', '/v1/vgpus', body,
                                   headers={'Content-Type': 'application/json'})
        if resp.status_int != 201:
            raise RuntimeError(f'{resp.status_int}: {resp.json["errors"][0]["detail"]}')
        return resp.json

    def get_vgpu(self, ident):
        return self.client.get('/v1/vgpus/' + ident).json

    def delete_vgpu(self, ident):
        assert self.client.delete('/v1/vgpus/' + ident).status_int == 202


class OneClaim:
    """The claim reader: the scheduler allocated one ``fifth`` device of gpu-a's pool."""

    def allocated(self, ref):
        return [k8s_claims.AllocatedDevice('gpu', 'gpu-a', 'fifth-0', 'fifth', MODEL,
                                           'local')]


@pytest.fixture
def world(mysql_db, tmp_path, vcsim_binary):
    # NOTE: ESXi hosts without cards: the vCenter's agent enters its ESXi hosts into the pool,
    # and this test is about one card.
    sim = vcsim_mod.Simulator(vcsim_binary, '-cards', '0')
    test_libvirt._node_file(tmp_path)
    fake_kernel.build(tmp_path / 'kernel')
    stack = EveryCloudStack(mysql_db.url, HOSTS, str(tmp_path), sim.url).start()
    try:
        yield stack, sim
    finally:
        stack.stop()
        sim.stop()


def _usage(stack):
    [entry] = [e for e in stack.client.get('/v1/usage', headers=V11).json['usage']
               if e['model'] == MODEL]
    return entry


def _create(stack, platform, host, ident, client=None):
    resp = (client or stack.client).post('/v1/vgpus', {
        'profile': 'fifth', 'consumer': {'platform': platform, 'host': host, 'id': ident}})
    assert resp.status_int == 201, resp.text
    return stack.wait_state(resp.json['uuid'], ('ACTIVE',))


def _release(stack, vgpu):
    assert stack.client.delete('/v1/vgpus/' + vgpu['uuid']).status_int == 202
    stack.wait_state(vgpu['uuid'], ('DELETED',))


def test_one_card_serves_every_cloud_from_one_set_of_books(world):
    stack, sim = world
    [card] = stack.client.get('/v1/devices').json['devices']
    # The card's NVIDIA /proc entry, for the libvirt driver to find its PCI address.
    info = os.path.join(stack.work, 'kernel/proc/driver/nvidia/gpus', fake_kernel.MDEV_CARD,
                        'information')
    with open(info, 'w') as f:
        f.write(f'GPU UUID: \t GPU-{card["uuid"]}\n')
    # NOTE: isolation none: the container's spec then needs no HAMi library on this host.
    assert stack.client.post('/v1/profiles', {'name': 'fifth', 'isolation': 'none',
                                              **FIFTH}).status_int == 201
    libvirt_driver = stack.platform_driver('gpu-a', 'libvirt')
    domain = libvirt_driver._connect().lookupByUUIDString(test_libvirt.DOMAIN)
    domain.destroy()  # shut off: the test driver cannot hot-plug
    vm = test_vmware._vm(sim, 'DC0_C0_RP0_VM0')

    # Five consumers, five platforms, one card. Nova's, the way a server's accelerator comes:
    # the pool publishes the profile to Cyborg, our Cyborg driver offers it on gpu-a, Nova and
    # Cyborg bind an ARQ there, the pool's pass turns the bound ARQ into the vGPU.
    nova = NovaByCyborg(stack)
    out = nova.sync()
    assert out['published']['created'] == ['pool-fifth'] and out['arqs']['bound'] == []
    assert nova.cyborg.profiles['pool-fifth']['groups'] == [
        {'resources:CUSTOM_POOL_FIFTH': '1', 'trait:CUSTOM_POOLING': 'required'}]
    offered = nova.slot()
    assert (offered['total'], offered['in_use'], offered['local']) == (5, 0, 5)
    assert (offered['device_profile'], offered['resource_class']) == ('pool-fifth',
                                                                      'CUSTOM_POOL_FIFTH')
    # NOTE: a fraction of a card: no PCI handle Nova attaches; the guest reads vendordata.
    assert {h['type'] for h in offered['handles']} == {'TEST_PCI'}
    arq = nova.cyborg.bind('pool-fifth', 'gpu-a', offered['handles'][0], nova.project)
    [bound] = nova.sync()['arqs']['bound']
    server = stack.wait_state(bound, ('ACTIVE',))
    # No Nova to ask here: named after the instance (the server's name where Nova answers).
    assert server['name'] == arq['instance_uuid'] and server['project_id'] == nova.project
    assert server['consumer'] == {'platform': 'nova', 'host': 'gpu-a',
                                  'id': arq['instance_uuid']}
    assert (server['compute_percent'], server['memory_mb']) == (20.0, 8192)
    assert nova.sync()['arqs']['bound'] == []  # one vGPU per ARQ, however many passes
    seen = nova.vendordata(arq)
    [listed] = seen['vgpus']
    assert (listed['uuid'], listed['state'], listed['profile']) == (server['uuid'], 'ACTIVE',
                                                                    'fifth')
    assert [(s['host'], s['device_uuid'], s['compute_percent'], s['memory_mb'])
            for s in listed['slices']] == [('gpu-a', card['uuid'], 20.0, 8192)]
    # A fraction of a card is no device Nova attaches, even on the card's own host: the guest
    # gets it through the data plane, with a lease (and a fresh credential) in vendordata.
    [lease] = seen['leases']
    assert lease['vgpu_uuid'] == server['uuid'] and lease['token']
    assert lease['endpoints'] == listed['attachment']['remote']['endpoints']  # gpu-a's gateway
    container = _create(stack, 'container', 'gpu-a', 'web')
    # The kubelet plugin writes into the same spec dir as the agent's cdi driver, as on a node.
    k8s_dirs = stack.dirs('gpu-a')
    k8s_cdi = k8s_platform.KubernetesPlatform(k8s_dirs)
    preparer = k8s_claims.ClaimPreparer('gpu-a', OneClaim(), lambda p: InProcessPool(
        stack.client.as_(p, 'member')), k8s_cdi, {'*': 'admin'}, timeout=20)
    # NOTE: unix socket paths are limited to ~107 bytes: a short temp dir.
    sockets = tempfile.mkdtemp(prefix='dra-')
    plugin = kubelet_plugin.KubeletPlugin(preparer, plugin_dir=os.path.join(sockets, 'plugin'),
                                          registry_dir=os.path.join(sockets, 'registry')).start()
    kubelet = fake_kubelet.FakeKubelet(os.path.join(sockets, 'registry'))
    kubelet.discover()
    claim = ('default', str(uuid.uuid4()), 'train')
    prepared = kubelet.prepare(k8s_model.DRIVER, [claim]).claims[claim[1]]
    assert prepared.error == ''
    vsphere = _create(stack, 'vmware', 'vc1', vm._moId)
    kvm = _create(stack, 'libvirt', 'gpu-a', test_libvirt.DOMAIN)

    # Each platform holds what it was given.
    spec = test_cdi_agent._spec(stack, 'gpu-a', container['uuid'])
    stack.wait_for(lambda: os.path.exists(spec), 'the container CDI spec')
    if not podman_rig.missing():
        podman_rig.make_dev_root(stack.dirs('gpu-a')['dev_root'], test_cdi_agent.NVIDIA_NODES)
        out = podman_rig.run(podman_rig.make_rootfs(os.path.join(stack.work, 'rootfs')), [spec],
                             [cdi.device_name(container['uuid'])], 'env | grep ^CUDA_')
        assert out.returncode == 0, out.stderr
        assert f'CUDA_VISIBLE_DEVICES=GPU-{card["uuid"]}' in out.stdout
    [device] = prepared.devices
    assert device.cdi_device_ids[0].startswith(cdi.KIND + '=')
    pod_vgpu = device.cdi_device_ids[0].split('=', 1)[1]
    pod_spec = k8s_cdi.spec_path(pod_vgpu)
    assert os.path.exists(pod_spec)
    key = 'guestinfo.pooling.vgpu.' + vsphere['uuid']

    def vm_config():
        return vm_mod.extra_config(test_vmware._vm(sim, 'DC0_C0_RP0_VM0'))
    stack.wait_for(lambda: key in vm_config(), 'the VM lease in guestinfo')
    assert json.loads(vm_config()[key])['token']
    alias = dom_mod.alias(kvm['uuid'], 0)

    def hostdevs():
        return dom_mod.hostdevs(domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    stack.wait_for(lambda: alias in hostdevs(), 'the domain hostdev')
    assert "type='mdev'" in hostdevs()[alias].replace('"', "'")

    # One set of books: the card is full, split by platform.
    entry = _usage(stack)
    assert entry['allocated'] == {'compute_percent': 100.0, 'memory_mb': 40960}
    assert entry['by_platform'] == [{'platform': p, 'vgpus': 1, **FIFTH} for p in PLATFORMS]
    rows = [r for r in _cli_usage_by_platform(stack) if r['Model'] == MODEL]
    assert [(r['Pool'], r['Platform'], r['vGPUs'], r['Compute %'], r['Memory (MB)'])
            for r in rows] == [(entry['pool'], p, 1, 20.0, 8192) for p in PLATFORMS]
    assert 'by_platform' not in stack.client.get('/v1/usage').json['usage'][0]  # 1.0

    # One more is refused everywhere it is asked (a VM that exists: an unknown one is a 400).
    other_vm = test_vmware._vm(sim, 'DC0_C0_RP0_VM1')._moId
    for platform, host, ident in (('container', 'gpu-a', 'web-2'), ('vmware', 'vc1', other_vm),
                                  ('libvirt', 'gpu-a', str(uuid.uuid4()))):
        resp = stack.client.post('/v1/vgpus', {
            'profile': 'fifth', 'consumer': {'platform': platform, 'host': host, 'id': ident}})
        assert resp.status_int == 409, (platform, resp.text)
    other = ('default', str(uuid.uuid4()), 'train-2')
    assert 'the pool refused' in kubelet.prepare(k8s_model.DRIVER, [other]).claims[
        other[1]].error
    full = nova.slot()
    assert (full['total'], full['in_use']) == (1, 1)  # Cyborg/Placement: nothing left to offer
    # Placement's inventory lags the pool (Cyborg reports every 60 s), so Nova may still bind
    # one: the pass refuses it and records it as a vGPU in ERROR that holds nothing.
    late = nova.cyborg.bind('pool-fifth', 'gpu-a', offered['handles'][1], nova.project)
    out = nova.sync()['arqs']
    assert out['bound'] == [] and out['released'] == []
    reason = out['failed'][late['uuid']]
    assert reason.startswith('bound by Cyborg but no capacity: ')
    record = stack.client.get('/v1/vgpus/' + out['unbound'][late['uuid']]['vgpu']).json
    assert (record['state'], record['state_reason']) == ('ERROR', reason)
    assert record['consumer'] == {'platform': 'nova', 'host': 'gpu-a',
                                  'id': late['instance_uuid']}
    assert [v['state'] for v in nova.vendordata(late)['vgpus']] == ['ERROR']
    again = _usage(stack)
    assert (again['allocated'], again['by_platform']) == (entry['allocated'],
                                                          entry['by_platform'])
    # The server that got nothing is deleted: its ARQ goes, and its record with it.
    nova.cyborg.delete_server(late['instance_uuid'])
    assert nova.sync()['arqs'] == {'bound': [], 'released': [], 'failed': {}, 'unbound': {}}
    assert stack.client.get('/v1/vgpus/' + record['uuid']).json['state'] == 'DELETED'

    # Releasing each returns exactly its share, and its platform's artefact goes.
    def delete_server():  # Nova deletes the server, Cyborg its ARQ; the next pass releases
        nova.cyborg.delete_server(arq['instance_uuid'])
        assert nova.sync()['arqs']['released'] == [server['uuid']]
        stack.wait_state(server['uuid'], ('DELETED',))

    released = []
    steps = [('vmware', lambda: _release(stack, vsphere), lambda: key not in vm_config()),
             ('libvirt', lambda: _release(stack, kvm), lambda: alias not in hostdevs()),
             ('kubernetes', lambda: kubelet.unprepare(k8s_model.DRIVER, [claim]),
              lambda: not os.path.exists(pod_spec)),
             ('container', lambda: _release(stack, container), lambda: not os.path.exists(spec)),
             ('nova', delete_server, lambda: nova.vendordata(arq)['vgpus'] == [])]
    for platform, release, gone in steps:
        before = _usage(stack)['allocated']
        release()
        left = before['memory_mb'] - FIFTH['memory_mb']
        stack.wait_for(lambda left=left: _usage(stack)['allocated']['memory_mb'] == left,
                       f'{platform} share back')
        after = _usage(stack)
        assert after['allocated']['compute_percent'] == pytest.approx(
            before['compute_percent'] - FIFTH['compute_percent'])
        released.append(platform)
        assert [p['platform'] for p in after['by_platform']] == sorted(
            set(PLATFORMS) - set(released))
        assert gone(), f'{platform} still holds its attachment'
    assert _usage(stack)['allocated'] == {'compute_percent': 0.0, 'memory_mb': 0}
    assert (nova.slot()['total'], nova.slot()['in_use']) == (5, 0)
    kubelet.close()
    plugin.stop()
