"""The cdi platform through the whole service: API → conductor → agents (MariaDB, RabbitMQ) →
one CDI spec per ACTIVE vGPU on the consumer's host → a real podman run (when installed).
"""

import json
import os
import time

import pytest

from pooling_drivers.platforms import cdi
from tests.functional import fixtures
from tests.functional.platforms import podman_rig
from tests.unit.platforms import cdi_schema

HOSTS = [('gpu-a', 'fab-1', 'nvidia:A100-SXM4-80GB:81920:108:1'), ('cpu-1', 'fab-1', '')]
NVIDIA_NODES = ('/dev/nvidia0', '/dev/nvidiactl', '/dev/nvidia-uvm', '/dev/nvidia-uvm-tools')


class CdiStack(fixtures.Stack):
    """Every agent runs the cdi platform with its own spec, lease and device directories."""

    def __init__(self, db_url, hosts, work):
        super().__init__(db_url, hosts, overrides={('platforms', 'detach_timeout'): 2,
                                                   ('platforms', 'sync_interval'): 1,
                                                   ('conductor', 'stuck_after'): 5})
        self.work = work

    def dirs(self, name):
        root = os.path.join(self.work, name)
        return {'spec_dir': os.path.join(root, 'cdi'), 'lease_dir': os.path.join(root, 'leases'),
                'dev_root': os.path.join(root, 'devroot')}

    def agent_conf(self, name, fabric, devices, health_file=None):
        conf = super().agent_conf(name, fabric, devices, health_file)
        d = self.dirs(name)
        conf.set_override('enabled', ['cdi'], group='platforms')
        conf.set_override('cdi_spec_dir', d['spec_dir'], group='platforms')
        conf.set_override('cdi_lease_dir', d['lease_dir'], group='platforms')
        conf.set_override('cdi_dev_root', d['dev_root'], group='platforms')
        return conf


@pytest.fixture
def cdi_stack(mysql_db, tmp_path):
    s = CdiStack(mysql_db.url, HOSTS, str(tmp_path)).start()
    yield s
    s.stop()


def _spec(stack, host, uuid):
    return os.path.join(stack.dirs(host)['spec_dir'], cdi.spec_file_name(uuid))


def _create(stack, host, name, **body):
    body = {'compute_percent': 25, 'memory_mb': 8192,
            'consumer': {'platform': 'container', 'host': host, 'id': name}, **body}
    resp = stack.client.post('/v1/vgpus', body)
    assert resp.status_int == 201, resp.text
    vgpu = stack.wait_state(resp.json['uuid'], ('ACTIVE',))
    path = _spec(stack, host, vgpu['uuid'])
    stack.wait_for(lambda: os.path.exists(path), f'CDI spec {path}', timeout=10)
    with open(path) as f:
        return vgpu, json.load(f)


def test_specs_follow_the_vgpu_life(cdi_stack):
    stack = cdi_stack
    local, local_spec = _create(stack, 'gpu-a', 'web', isolation='soft')
    remote, remote_spec = _create(stack, 'cpu-1', 'job', locality='remote-required')
    assert remote['slices'][0]['host'] == 'gpu-a'

    edits = local_spec['devices'][0]['containerEdits']
    assert local_spec['kind'] == cdi.KIND and local_spec['devices'][0]['name'] == local['uuid']
    assert {n['path'] for n in edits['deviceNodes']} == set(NVIDIA_NODES)
    assert any(e.startswith('CUDA_DEVICE_MEMORY_LIMIT_0=8192m') for e in edits['env'])

    redits = remote_spec['devices'][0]['containerEdits']
    assert 'deviceNodes' not in redits
    lease = cdi.CdiPlatform(stack.dirs('cpu-1')).lease_file(remote['uuid'])
    with open(lease) as f:
        assert json.load(f)['endpoints'] == remote['attachment']['remote']['endpoints']
    # Only the consumer's host has a spec: the device host wrote none for the remote vGPU.
    assert not os.path.exists(_spec(stack, 'gpu-a', remote['uuid']))
    if cdi_schema.available():
        validator = cdi_schema.validator()
        assert list(validator.iter_errors(local_spec)) == []
        assert list(validator.iter_errors(remote_spec)) == []

    for vgpu, host in ((local, 'gpu-a'), (remote, 'cpu-1')):
        assert stack.client.delete('/v1/vgpus/' + vgpu['uuid']).status_int == 202
        stack.wait_state(vgpu['uuid'], ('DELETED',))
        # Detached before the capacity was given back: gone by the time it is DELETED.
        assert not os.path.exists(_spec(stack, host, vgpu['uuid']))
    assert not os.path.exists(lease)


def test_the_sync_removes_strays_and_restores_lost_specs(cdi_stack):
    stack = cdi_stack
    vgpu, _ = _create(stack, 'gpu-a', 'web')
    stray = _spec(stack, 'gpu-a', '0badc0de-0000-4000-8000-000000000000')
    with open(stray, 'w') as f:
        f.write('{}')
    os.unlink(_spec(stack, 'gpu-a', vgpu['uuid']))
    stack.wait_for(lambda: not os.path.exists(stray), 'the stray spec to go', timeout=10)
    stack.wait_for(lambda: os.path.exists(_spec(stack, 'gpu-a', vgpu['uuid'])),
                   'the lost spec to come back', timeout=10)


def test_release_waits_for_the_consumer_host_to_detach(cdi_stack):
    stack = cdi_stack
    vgpu, _ = _create(stack, 'cpu-1', 'job', locality='remote-required')
    device = vgpu['slices'][0]['device_uuid']
    held = stack.client.get('/v1/devices/' + device).json['used']['memory_mb']
    stack.stop_service('cpu-1')
    assert stack.client.delete('/v1/vgpus/' + vgpu['uuid']).status_int == 202
    # The consumer host does not answer: its container could still start, so the capacity
    # stays held and the vGPU RELEASING (until the host answers or is marked down).
    time.sleep(5)
    assert stack.client.get('/v1/vgpus/' + vgpu['uuid']).json['state'] == 'RELEASING'
    assert stack.client.get('/v1/devices/' + device).json['used']['memory_mb'] == held
    assert os.path.exists(_spec(stack, 'cpu-1', vgpu['uuid']))
    stack.start_agent('cpu-1', 'fab-1', '')
    stack.wait_state(vgpu['uuid'], ('DELETED',), timeout=30)
    assert not os.path.exists(_spec(stack, 'cpu-1', vgpu['uuid']))
    assert stack.client.get('/v1/devices/' + device).json['used']['memory_mb'] == held - 8192


@pytest.mark.skipif(bool(podman_rig.missing()), reason=podman_rig.missing() or 'ok')
def test_podman_runs_a_container_with_a_pooled_vgpu(cdi_stack, tmp_path):
    stack = cdi_stack
    podman_rig.make_dev_root(stack.dirs('gpu-a')['dev_root'], NVIDIA_NODES)
    rootfs = podman_rig.make_rootfs(tmp_path / 'rootfs')
    # NOTE: isolation none: HAMi's preload library and lock folder are not on this host, and
    # runc refuses a bind mount whose source is missing.
    local, _ = _create(stack, 'gpu-a', 'web', isolation='none')
    remote, _ = _create(stack, 'cpu-1', 'job', locality='remote-required', isolation='none')
    specs = [_spec(stack, 'gpu-a', local['uuid'])]

    out = podman_rig.run(rootfs, specs, [cdi.device_name(local['uuid'])],
                         'env | grep -E "^(POOLING|CUDA)_" | sort; stat -c "%n %t,%T %F" '
                         '/dev/nvidia0')
    assert out.returncode == 0, out.stderr
    assert f'POOLING_VGPU_UUID={local["uuid"]}' in out.stdout
    assert f'CUDA_VISIBLE_DEVICES=GPU-{local["slices"][0]["device_uuid"]}' in out.stdout
    assert '/dev/nvidia0 1,3 character special file' in out.stdout

    rspec = _spec(stack, 'cpu-1', remote['uuid'])
    out = podman_rig.run(rootfs, [rspec], [cdi.device_name(remote['uuid'])],
                         'echo lease=$POOLING_LEASE_FILE; cat $POOLING_LEASE_FILE; echo; '
                         'test -e /dev/nvidia0 && echo has-node; '
                         'echo x > $POOLING_LEASE_FILE || echo read-only')
    assert out.returncode == 0, out.stderr
    assert 'lease=/etc/pooling/lease.json' in out.stdout
    assert json.loads(out.stdout.splitlines()[1])['token']
    assert 'has-node' not in out.stdout and 'read-only' in out.stdout

    # Released: the spec is gone and podman refuses the device.
    assert stack.client.delete('/v1/vgpus/' + local['uuid']).status_int == 202
    stack.wait_state(local['uuid'], ('DELETED',))
    out = podman_rig.run(rootfs, [p for p in specs if os.path.exists(p)],
                         [cdi.device_name(local['uuid'])], 'true')
    assert out.returncode != 0
    assert 'unresolvable CDI devices' in out.stderr


def test_a_container_lease_gets_a_new_credential_before_it_expires(cdi_stack):
    """A container reads its lease from a mounted file, so nobody fetches a fresh one: in the
    last third of the credential's life the conductor issues a new one, the gateway admits it,
    and the file is rewritten in place (the running container's bind mount holds that inode)."""
    import datetime

    import sqlalchemy as sa

    from pooling.db import api as db_api
    from pooling.db import models
    from pooling.gateway import lease as lease_mod
    from pooling.gateway import proxy

    stack = cdi_stack
    remote, _ = _create(stack, 'cpu-1', 'job', locality='remote-required')
    path = cdi.CdiPlatform(stack.dirs('cpu-1')).lease_file(remote['uuid'])
    stack.wait_for(lambda: os.path.exists(path), 'the lease file')
    with open(path) as f:
        first = lease_mod.LeaseDocument.from_json(f.read())
    inode = os.stat(path).st_ino
    proxy.check(first)
    # As if 45 of its 60 minutes had passed.
    with db_api.get_engine().begin() as conn:
        conn.execute(sa.update(models.VGPU).where(models.VGPU.uuid == remote['uuid']).values(
            lease_expires_at=datetime.datetime.utcnow() + datetime.timedelta(minutes=15)))

    def read():
        with open(path) as f:
            return lease_mod.LeaseDocument.from_json(f.read())
    stack.wait_for(lambda: read().token != first.token, 'the rotated lease in the file',
                   timeout=30)
    second = read()
    assert os.stat(path).st_ino == inode
    assert second.expires_at >= first.expires_at  # a whole lifetime again, not 15 minutes
    assert second.endpoints == first.endpoints
    proxy.check(second)
    with pytest.raises(proxy.GatewayRefused):
        proxy.check(first)
    # Rotated once: the next passes find it far from expiry.
    time.sleep(3)
    assert read().token == second.token
