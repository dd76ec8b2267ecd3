"""The DRA kubelet plugin against a stand-in kubelet over unix sockets (real gRPC)."""

import itertools
import os
import tempfile
import threading

import pytest

from pooling_drivers.platforms import cdi
from pooling_drivers.platforms.kubernetes import claims as claims_mod
from pooling_drivers.platforms.kubernetes import kubelet_plugin
from pooling_drivers.platforms.kubernetes import model
from tests.unit.platforms.k8s import fake_kubelet


class StubClaims:
    """Claims as the API server would answer them (allocation + slice attributes)."""

    def __init__(self):
        self.claims = {}

    def add(self, uid, devices):
        self.claims[uid] = devices

    def allocated(self, ref):
        if ref.uid not in self.claims:
            raise claims_mod.ClaimError(f'cannot read ResourceClaim {ref.namespace}/{ref.name}')
        return self.claims[ref.uid]


class StubPool:
    """The pool's REST API for one project: vGPUs go ACTIVE on the second read."""

    def __init__(self, refuse_profiles=()):
        self.vgpus = {}
        self.refuse = set(refuse_profiles)
        self.ids = itertools.count(1)
        self.lock = threading.Lock()

    def list_vgpus(self, consumer_platform=None, consumer_id=None):
        return [v for v in self.vgpus.values()
                if v['consumer']['platform'] == consumer_platform
                and v['consumer']['id'] == consumer_id]

    def create_vgpu(self, **body):
        if body['profile'] in self.refuse:
            raise RuntimeError('No capacity for this vGPU (HTTP 409)')
        with self.lock:
            uuid = f'00000000-0000-4000-8000-{next(self.ids):012d}'
        vgpu = {'uuid': uuid, 'name': body['name'], 'state': 'SCHEDULED',
                'consumer': body['consumer'], 'project_id': 'p', 'compute_percent': 25.0,
                'memory_mb': 20480,
                'slices': [{'index': 0, 'host': 'node-a', 'device_uuid': 'GPU-1',
                            'compute_percent': 25.0, 'memory_mb': 20480}],
                'attachment': None}
        self.vgpus[uuid] = vgpu
        return dict(vgpu)

    def get_vgpu(self, uuid):
        vgpu = self.vgpus[uuid]
        if vgpu['state'] == 'SCHEDULED':
            vgpu.update(state='ACTIVE', attachment={'slices': [{
                'device_uuid': 'GPU-1', 'isolation': 'soft', 'visible_uuid': 'GPU-1',
                'env': {'CUDA_VISIBLE_DEVICES': 'GPU-1'}, 'devices': ['/dev/nvidia0']}],
                'remote': None})
        return dict(vgpu)

    def delete_vgpu(self, uuid):
        self.vgpus.pop(uuid)


def dev(name, profile='a100-quarter', locality='local', request='gpu'):
    return claims_mod.AllocatedDevice(request=request, pool='node-a', device=name,
                                      profile=profile, model='A100-SXM4-80GB', locality=locality)


@pytest.fixture
def rig():
    # NOTE: unix socket paths are limited to ~107 bytes: a short temp dir, not tmp_path.
    root = tempfile.mkdtemp(prefix='dra-')
    claims, pool = StubClaims(), StubPool(refuse_profiles={'huge'})
    driver = cdi.CdiPlatform({'spec_dir': os.path.join(root, 'cdi'),
                              'platforms': ['kubernetes']})
    preparer = claims_mod.ClaimPreparer('node-a', claims, lambda project: pool, driver,
                                        {'team-a': 'project-a'}, timeout=5, poll=0.01)
    plugin = kubelet_plugin.KubeletPlugin(preparer, plugin_dir=os.path.join(root, 'plugin'),
                                          registry_dir=os.path.join(root, 'registry')).start()
    kubelet = fake_kubelet.FakeKubelet(os.path.join(root, 'registry'))
    yield claims, pool, driver, plugin, kubelet
    kubelet.close()
    plugin.stop()


def test_registration_then_prepare_and_unprepare(rig):
    claims, pool, driver, plugin, kubelet = rig
    plugins = kubelet.discover()
    assert plugins[model.DRIVER][0] == 'v1.DRAPlugin'
    assert plugin.registered is True
    claims.add('uid-1', [dev('q-0'), dev('q-1', request='second')])

    resp = kubelet.prepare(model.DRIVER, [('team-a', 'uid-1', 'claim-1')])
    entry = resp.claims['uid-1']
    assert entry.error == ''
    assert [(d.device_name, list(d.request_names)) for d in entry.devices] == [
        ('q-0', ['gpu']), ('q-1', ['second'])]
    uuids = sorted(pool.vgpus)
    assert [list(d.cdi_device_ids) for d in entry.devices] == [
        [cdi.device_name(u)] for u in uuids]
    assert driver.attached() == uuids
    consumer = pool.vgpus[uuids[0]]['consumer']
    assert consumer == {'platform': 'kubernetes', 'host': 'node-a', 'id': 'uid-1'}

    # Idempotent: the same claim again reuses the vGPUs.
    again = kubelet.prepare(model.DRIVER, [('team-a', 'uid-1', 'claim-1')])
    assert again.claims['uid-1'] == entry and sorted(pool.vgpus) == uuids

    resp = kubelet.unprepare(model.DRIVER, [('team-a', 'uid-1', 'claim-1')])
    assert resp.claims['uid-1'].error == ''
    assert pool.vgpus == {} and driver.attached() == []
    resp = kubelet.unprepare(model.DRIVER, [('team-a', 'uid-1', 'claim-1')])
    assert resp.claims['uid-1'].error == ''


def test_one_bad_claim_does_not_fail_the_others(rig):
    claims, pool, _driver, _plugin, kubelet = rig
    kubelet.discover()
    claims.add('good', [dev('q-0')])
    claims.add('too-big', [dev('h-0', profile='huge')])
    resp = kubelet.prepare(model.DRIVER, [('team-a', 'good', 'g'), ('team-a', 'too-big', 'b'),
                                          ('team-a', 'missing', 'm'),
                                          ('unmapped', 'other', 'o')])
    assert set(resp.claims) == {'good', 'too-big', 'missing', 'other'}
    assert resp.claims['good'].error == '' and len(resp.claims['good'].devices) == 1
    assert 'refused a huge vGPU' in resp.claims['too-big'].error
    assert 'cannot read ResourceClaim' in resp.claims['missing'].error
    assert 'mapped to no OpenStack project' in resp.claims['other'].error


def test_v1beta1_kubelet_is_served_too(rig):
    claims, _pool, _driver, _plugin, _kubelet = rig
    old = fake_kubelet.FakeKubelet(_kubelet.registry_dir, known=('v1beta1.DRAPlugin',))
    try:
        assert old.discover()[model.DRIVER][0] == 'v1beta1.DRAPlugin'
        claims.add('uid-2', [dev('q-0')])
        resp = old.prepare(model.DRIVER, [('team-a', 'uid-2', 'c')])
        assert resp.claims['uid-2'].error == '' and resp.claims['uid-2'].devices
    finally:
        old.close()


def test_kubelet_that_knows_no_version_refuses(rig):
    _claims, _pool, _driver, plugin, kubelet = rig
    odd = fake_kubelet.FakeKubelet(kubelet.registry_dir, known=('v9.DRAPlugin',))
    assert odd.discover() == {}
    assert plugin.registered is False and 'no supported version' in plugin.registration_error


def test_kubelet_restart_and_lost_socket_re_register(rig):
    claims, pool, _driver, plugin, kubelet = rig
    kubelet.discover()
    claims.add('uid-3', [dev('q-0')])
    first = kubelet.prepare(model.DRIVER, [('team-a', 'uid-3', 'c')])
    # The kubelet restarts (forgets plugins), and cleaned its registry directory meanwhile.
    os.unlink(plugin.reg_socket)
    assert kubelet.restart() == {}
    assert plugin.ensure_registered() is True
    assert plugin.ensure_registered() is False
    kubelet.restart()
    second = kubelet.prepare(model.DRIVER, [('team-a', 'uid-3', 'c')])
    assert second.claims['uid-3'] == first.claims['uid-3'] and len(pool.vgpus) == 1


def test_a_placement_on_another_card_is_logged(rig, caplog):
    claims, _pool, _driver, _plugin, kubelet = rig
    kubelet.discover()
    booked = claims_mod.AllocatedDevice(request='gpu', pool='node-a', device='q-0',
                                        profile='a100-quarter', model='A100-SXM4-80GB',
                                        locality='local', card='GPU-9')
    claims.add('uid-9', [booked])
    with caplog.at_level('WARNING'):
        resp = kubelet.prepare(model.DRIVER, [('team-a', 'uid-9', 'c')])
    assert resp.claims['uid-9'].error == ''
    assert 'booked q-0 on card GPU-9, the pool placed' in caplog.text
