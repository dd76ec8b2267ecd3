"""One card shared at once by a Kubernetes claim and a vGPU made through the API.

A real pool (pooling-api, -conductor and sim agents as processes, on MariaDB and RabbitMQ); the
Kubernetes side is stood in for: the resource.k8s.io/v1 API by an in-process HTTP server driven
through the real ``kubernetes`` client, the kubelet by a real gRPC peer over unix sockets.  The
claim is allocated the way the scheduler would: a device of the published slice.
"""

import contextlib
import io
import json
import os
from pathlib import Path
import shutil
import subprocess
import sys
import tempfile
import time

import kubernetes_validate
import pytest
import yaml

from bench import api_load_services as services
from pooling_drivers.platforms import cdi
from pooling_drivers.platforms.kubernetes import claims as claims_mod
from pooling_drivers.platforms.kubernetes import controller
from pooling_drivers.platforms.kubernetes import kubelet_plugin
from pooling_drivers.platforms.kubernetes import model
from poolingclient import k8s as cli
from tests.unit.platforms.k8s import fake_apiserver
from tests.unit.platforms.k8s import fake_kubelet

NODE = 'bench-gpu-0'


@pytest.fixture(scope='module')
def pool_url(tmp_path_factory):
    work = tmp_path_factory.mktemp('k8s')
    with services.pooling_stack(work, devices=1, hosts=1, consumer_host=True) as url:
        yield url


def _args(url, *extra):
    argv = ['--os-auth-type', 'none', '--os-endpoint', url, *extra]
    return argv


def _clients(url):
    argv = _args(url, 'manifests')
    return cli.PoolClients(cli.build_parser(argv).parse_args(argv))


def _wait(predicate, what, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f'timed out waiting for {what}')


def test_manifests_dry_run_prints_valid_objects(pool_url):
    clients = _clients(pool_url)
    admin = clients.admin()
    _wait(lambda: admin.list_devices(), 'the sim card to be reported')
    if not any(p['name'] == 'k8s-quarter' for p in admin.list_profiles()):
        admin.create_profile(name='k8s-quarter', compute_percent=25, memory_mb=20480,
                             isolation='soft', locality='remote-allowed')
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(_args(pool_url, 'manifests')) == 0
    objects = list(yaml.safe_load_all(out.getvalue()))
    kinds = sorted({o['kind'] for o in objects})
    assert kinds == ['DeviceClass', 'ResourceSlice']
    for obj in objects:
        kubernetes_validate.validate(obj, '1.37.0', strict=True)


def test_a_card_shared_by_a_claim_and_an_api_vgpu(pool_url):
    clients = _clients(pool_url)
    admin = clients.admin()
    _wait(lambda: admin.list_devices(), 'the sim card to be reported')
    if not any(p['name'] == 'k8s-quarter' for p in admin.list_profiles()):
        admin.create_profile(name='k8s-quarter', compute_percent=25, memory_mb=20480,
                             isolation='soft', locality='remote-allowed')
    (card,) = admin.list_devices(host=NODE)
    server = fake_apiserver.FakeApiServer().start()
    root = tempfile.mkdtemp(prefix='k8s-')
    try:
        publisher = controller.Publisher(server.client())
        read = lambda: model.PoolView.from_client(admin)  # noqa: E731

        def card_counters():
            for s in server.objects('resourceslices'):
                for cs in s['spec'].get('sharedCounters', ()):
                    if cs['name'] == model.counter_set(card['uuid']):
                        return cs['counters']
        publisher.sync(read())
        assert card_counters()['memory'] == {'value': '81920Mi'}

        # A vGPU through the API (a container on the node, outside Kubernetes) shrinks what
        # Kubernetes may take. NOTE: not a Nova consumer: a Nova guest's fraction is served
        # through the data plane, and this stack's agents run no gateway.
        api_vgpu = clients.for_project('tenant-a').create_vgpu(
            name='api-one', compute_percent=50, memory_mb=40960, locality='local',
            consumer={'platform': 'container', 'host': NODE, 'id': 'web-1'})
        _wait(lambda: admin.get_vgpu(api_vgpu['uuid'])['state'] == 'ACTIVE', 'API vGPU')
        publisher.sync(read())
        assert card_counters() == {'memory': {'value': '40960Mi'}, 'compute': {'value': '500'}}
        gen = {s['spec']['pool']['generation'] for s in server.objects('resourceslices')}
        assert gen == {2}

        # The scheduler allocates one of the card's k8s-quarter devices to a claim.
        (slice_,) = [s for s in server.objects('resourceslices') if s['spec'].get('devices')]
        device = next(d for d in slice_['spec']['devices']
                      if d['attributes']['profile']['string'] == 'k8s-quarter'
                      and d.get('nodeName') == NODE)
        server.put_claim('team-a', 'claim-1', 'uid-claim-1', [{
            'request': 'gpu', 'driver': model.DRIVER, 'pool': NODE, 'device': device['name']}])

        driver = cdi.CdiPlatform({'spec_dir': os.path.join(root, 'cdi'),
                                  'lease_dir': os.path.join(root, 'leases'),
                                  'platforms': ['kubernetes']})
        preparer = claims_mod.ClaimPreparer(
            NODE, claims_mod.KubeClaims(server.client()), clients.for_project, driver,
            {'team-a': 'tenant-k8s'}, timeout=60)
        plugin = kubelet_plugin.KubeletPlugin(
            preparer, plugin_dir=os.path.join(root, 'p'),
            registry_dir=os.path.join(root, 'r')).start()
        kubelet = fake_kubelet.FakeKubelet(os.path.join(root, 'r'))
        try:
            kubelet.discover()
            resp = kubelet.prepare(model.DRIVER, [('team-a', 'uid-claim-1', 'claim-1')])
            entry = resp.claims['uid-claim-1']
            assert entry.error == '', entry.error
            (cdi_id,) = entry.devices[0].cdi_device_ids
            (k8s_vgpu,) = admin.list_vgpus(all_projects=True, consumer_platform='kubernetes',
                                           consumer_id='uid-claim-1')
            assert cdi_id == cdi.device_name(k8s_vgpu['uuid'])
            assert k8s_vgpu['project_id'] == 'tenant-k8s' and k8s_vgpu['state'] == 'ACTIVE'
            # consumer_platform alone lists that platform's vGPUs (the controller's read).
            assert [v['uuid'] for v in admin.list_vgpus(
                all_projects=True, consumer_platform='kubernetes')] == [k8s_vgpu['uuid']]
            assert driver.attached() == [k8s_vgpu['uuid']]

            # The books are exact: the card holds both, 75 % and 60 GiB.
            used = admin.get_device(card['uuid'])['used']
            assert used == {'compute_percent': 75.0, 'memory_mb': 61440}
            # Kubernetes counts its own claim; the counters still net out only the API vGPU.
            publisher.sync(read())
            assert card_counters()['memory'] == {'value': '40960Mi'}

            # What does not fit any more is refused for the API too.
            with pytest.raises(Exception, match='409|capacity'):
                clients.for_project('tenant-a').create_vgpu(
                    compute_percent=50, memory_mb=40960, locality='local',
                    consumer={'platform': 'container', 'host': NODE, 'id': 'web-2'})

            resp = kubelet.unprepare(model.DRIVER, [('team-a', 'uid-claim-1', 'claim-1')])
            assert resp.claims['uid-claim-1'].error == ''
            assert driver.attached() == []
            _wait(lambda: admin.get_device(card['uuid'])['used']['memory_mb'] == 40960,
                  'the claim capacity to come back')
        finally:
            kubelet.close()
            plugin.stop()
        admin.delete_vgpu(api_vgpu['uuid'])
        _wait(lambda: admin.get_device(card['uuid'])['used']['memory_mb'] == 0, 'all back')
        publisher.sync(read())
        assert card_counters()['memory'] == {'value': '81920Mi'}
    finally:
        server.stop()


def test_openstack_cli_creates_a_vgpu_for_a_container(pool_url):
    """The docs' command: ``openstack accelerator vgpu create ... --consumer platform=container``.
    """
    openstack = shutil.which('openstack', path=str(Path(sys.executable).parent)) or 'openstack'
    env = {k: v for k, v in os.environ.items() if not k.startswith('OS_')}
    argv = [openstack, '--os-auth-type', 'none', '--os-endpoint', pool_url, 'accelerator',
            'vgpu', 'create', '--compute', '10', '--memory', '1024', '--locality', 'local',
            '--consumer', f'platform=container,host={NODE},id=web', '--wait', 'web-vgpu',
            '-f', 'json']
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    vgpu = json.loads(proc.stdout)
    assert vgpu['state'] == 'ACTIVE'
    assert vgpu['consumer'] == {'platform': 'container', 'host': NODE, 'id': 'web'}
    _clients(pool_url).admin().delete_vgpu(vgpu['uuid'])
