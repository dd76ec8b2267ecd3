"""A vGPU's whole life through the API, conductor and agents (MariaDB, RabbitMQ)."""

import json
import os
import tempfile

from pooling import service as pooling_service
from pooling.agent import capacity
from tests.functional import fixtures


def _create(client, **body):
    body.setdefault('compute_percent', 25)
    body.setdefault('memory_mb', 10240)
    return client.post('/v1/vgpus', body)


def test_claim_prepare_activate_release(stack):
    c = stack.client
    before = {d['uuid']: d for d in c.get('/v1/devices').json['devices']}
    resp = _create(c, name='job-1', models=['A100-SXM4-80GB'])
    assert resp.status_int == 201, resp.text
    vgpu = resp.json
    assert vgpu['state'] == 'SCHEDULED'
    assert resp.headers['Location'].endswith('/v1/vgpus/' + vgpu['uuid'])
    assert resp.headers['OpenStack-API-Version'] == 'accelerator-pool 1.0'
    (slice_,) = vgpu['slices']
    assert slice_['compute_percent'] == 25 and slice_['memory_mb'] == 10240
    vgpu = stack.wait_state(vgpu['uuid'], ('ACTIVE',))
    attachment = vgpu['attachment']['slices'][0]
    assert attachment['device_uuid'] == slice_['device_uuid']
    dev = c.get('/v1/devices/' + slice_['device_uuid']).json
    assert dev['model'] == 'A100-SXM4-80GB'
    assert dev['free']['compute_percent'] == before[dev['uuid']]['free']['compute_percent'] - 25
    assert dev['free']['memory_mb'] == before[dev['uuid']]['free']['memory_mb'] - 10240

    assert c.delete('/v1/vgpus/' + vgpu['uuid']).status_int == 202
    vgpu = stack.wait_state(vgpu['uuid'], ('DELETED',))
    dev = c.get('/v1/devices/' + slice_['device_uuid']).json
    assert dev['free'] == before[dev['uuid']]['free']
    # Deleted vGPUs leave the default listing; a second DELETE is a 404.
    assert vgpu['uuid'] not in [v['uuid'] for v in c.get('/v1/vgpus').json['vgpus']]
    assert c.delete('/v1/vgpus/' + vgpu['uuid']).status_int == 404


def test_whole_cards_and_models_and_profiles(stack):
    c = stack.client
    resp = c.post('/v1/profiles', {'name': 'a100-half', 'compute_percent': 50,
                                   'memory_mb': 40960, 'models': ['A100-SXM4-80GB']})
    assert resp.status_int == 201, resp.text
    vgpu = c.post('/v1/vgpus', {'profile': 'a100-half'}).json
    assert vgpu['profile'] == 'a100-half'
    devices = {d['uuid']: d for d in c.get('/v1/devices').json['devices']}
    assert devices[vgpu['slices'][0]['device_uuid']]['model'] == 'A100-SXM4-80GB'
    # Two whole cards must come from one host: only gpu-a has two free A100s.
    two = c.post('/v1/vgpus', {'compute_percent': 100, 'memory_mb': 81920, 'count': 2,
                               'models': ['A100-SXM4-80GB']})
    assert two.status_int in (201, 409), two.text
    vendor = c.post('/v1/vgpus', {'compute_percent': 10, 'memory_mb': 1024,
                                  'models': ['Ascend910B']}).json
    assert devices[vendor['slices'][0]['device_uuid']]['vendor'] == 'ascend'
    # A profile in use cannot be deleted.
    assert c.delete('/v1/profiles/a100-half').status_int == 409


def test_locality_follows_the_fabric(stack):
    c = stack.client
    consumer = {'platform': 'other', 'host': 'cpu-1', 'id': 'c1'}
    remote = c.post('/v1/vgpus', {'compute_percent': 10, 'memory_mb': 1024,
                                  'locality': 'remote-required', 'consumer': consumer}).json
    # cpu-1 is in fab-1: gpu-a or gpu-b, never gpu-c (fab-2).
    assert remote['slices'][0]['host'] in ('gpu-a', 'gpu-b')
    active = stack.wait_state(remote['uuid'], ('ACTIVE',))
    remote_att = active['attachment']['remote']
    assert remote_att['protocol'] == 'fake' and remote_att['endpoints'][0]['gateway']
    assert 'token' not in json.dumps(active)  # the credential only comes from the lease call
    local = c.post('/v1/vgpus', {'compute_percent': 10, 'memory_mb': 1024,
                                 'locality': 'local',
                                 'consumer': {'platform': 'other', 'host': 'gpu-c',
                                              'id': 'c2'}}).json
    assert local['slices'][0]['host'] == 'gpu-c'
    nothing = c.post('/v1/vgpus', {'compute_percent': 10, 'memory_mb': 1024,
                                   'locality': 'local', 'consumer': consumer})
    assert nothing.status_int == 409
    assert nothing.json['errors'][0]['code'] == 'pooling.no_capacity'


def test_no_capacity_is_a_409_with_a_reason(stack):
    resp = _create(stack.client, compute_percent=100, memory_mb=81920, count=4)
    assert resp.status_int == 409
    assert resp.json['errors'][0]['detail']


def test_tenants_see_only_their_project(stack):
    alice = stack.client.as_('alice', 'member,reader')
    bob = stack.client.as_('bob', 'member,reader')
    mine = _create(alice).json
    assert mine['project_id'] == 'alice'
    assert [v['uuid'] for v in alice.get('/v1/vgpus').json['vgpus']] == [mine['uuid']]
    assert bob.get('/v1/vgpus').json['vgpus'] == []
    assert bob.get('/v1/vgpus/' + mine['uuid']).status_int == 404
    assert bob.delete('/v1/vgpus/' + mine['uuid']).status_int == 404
    assert bob.get('/v1/vgpus?all_projects=true').status_int == 403
    reader = stack.client.as_('alice', 'reader')
    assert reader.get('/v1/vgpus/' + mine['uuid']).status_int == 200
    assert _create(reader).status_int == 403
    assert reader.delete('/v1/vgpus/' + mine['uuid']).status_int == 403
    # Pools and profiles are the admin's to manage; a reader may list them.
    assert alice.post('/v1/pools', {'name': 'nope'}).status_int == 403
    assert alice.post('/v1/profiles', {'name': 'nope', 'compute_percent': 1,
                                       'memory_mb': 1}).status_int == 403
    assert reader.get('/v1/pools').status_int == 200
    admin_view = stack.client.get('/v1/vgpus?all_projects=true').json['vgpus']
    assert mine['uuid'] in [v['uuid'] for v in admin_view]
    assert alice.get('/v1/quotas/bob').status_int == 403


def test_a_vgpu_is_found_by_its_unique_name_in_the_callers_project(stack):
    alice = stack.client.as_('alice', 'member,reader')
    bob = stack.client.as_('bob', 'member,reader')
    mine = _create(alice, name='by-name').json
    assert alice.get('/v1/vgpus/by-name').json['uuid'] == mine['uuid']
    # Another project's name is not visible; a shared name asks for the UUID.
    assert bob.get('/v1/vgpus/by-name').status_int == 404
    twin = _create(alice, name='by-name').json
    resp = alice.get('/v1/vgpus/by-name')
    assert resp.status_int == 409 and 'use its UUID' in resp.json['errors'][0]['detail']
    assert alice.delete('/v1/vgpus/' + twin['uuid']).status_int == 202
    stack.wait_state(twin['uuid'], ('DELETED',))
    assert alice.delete('/v1/vgpus/by-name').status_int == 202
    stack.wait_state(mine['uuid'], ('DELETED',))
    assert alice.get('/v1/vgpus/by-name').status_int == 404


def test_compute_percent_is_one_unit_with_one_decimal(stack):
    """Percent of one card everywhere, tenths allowed: as devices report partitions."""
    c = stack.client
    profile = c.post('/v1/profiles', {'name': 'seventh', 'compute_percent': 14.2,
                                      'memory_mb': 1024}).json
    assert profile['compute_percent'] == 14.2
    assert c.get('/v1/profiles/seventh').json['compute_percent'] == 14.2
    vgpu = _create(c, compute_percent=12.5, memory_mb=1024).json
    assert vgpu['compute_percent'] == 12.5 and vgpu['slices'][0]['compute_percent'] == 12.5
    dev = c.get('/v1/devices/' + vgpu['slices'][0]['device_uuid']).json
    assert isinstance(dev['used']['compute_percent'], float)
    assert c.delete('/v1/vgpus/' + vgpu['uuid']).status_int == 202
    stack.wait_state(vgpu['uuid'], ('DELETED',))
    assert c.delete('/v1/profiles/seventh').status_int == 204


def test_quota_is_enforced_at_claim(stack):
    c = stack.client
    resp = c.put('/v1/quotas/carol', {'quota': {'vgpus': 1, 'memory_mb': 20000}})
    assert resp.status_int == 200, resp.text
    carol = c.as_('carol', 'member,reader')
    assert _create(carol, memory_mb=15000).status_int == 201
    refused = _create(carol, memory_mb=1000)
    assert refused.status_int == 409
    assert refused.json['errors'][0]['code'] == 'pooling.quota_exceeded'
    quota = carol.get('/v1/quotas/carol').json['quota']
    assert quota['usage'] == {'vgpus': 1, 'memory_mb': 15000, 'compute_percent': 25}
    assert c.delete('/v1/quotas/carol').status_int == 204
    assert _create(carol, memory_mb=1000).status_int == 201


def test_usage_reports_stranded_capacity(stack):
    c = stack.client
    c.post('/v1/profiles', {'name': 'big', 'compute_percent': 60, 'memory_mb': 40000})
    # Take 50 % of gpu-c's only A100: the 50 % left cannot hold the common 60 % shape.
    vgpu = c.post('/v1/vgpus', {'compute_percent': 50, 'memory_mb': 1000, 'locality': 'local',
                                'consumer': {'platform': 'other', 'host': 'gpu-c',
                                             'id': 'x'}}).json
    for _ in range(3):
        c.post('/v1/vgpus', {'profile': 'big'})
    usage = {(u['pool'], u['model']): u for u in c.get('/v1/usage').json['usage']}
    a100 = usage[('default', 'A100-SXM4-80GB')]
    assert a100['devices'] == 3
    assert a100['capacity']['compute_percent'] == 300
    assert a100['stranded']['compute_percent'] >= 40
    assert vgpu['slices'][0]['host'] == 'gpu-c'


def test_unhealthy_device_takes_no_new_slices_and_flags_vgpus(stack):
    health = os.path.join(tempfile.mkdtemp(), 'health.json')
    with open(health, 'w') as f:
        json.dump({}, f)
    stack.stop_service('gpu-c')
    stack.start_agent('gpu-c', 'fab-2', 'nvidia:A100-SXM4-80GB:81920:108:1',
                      health_file=health)
    c = stack.client
    consumer = {'platform': 'other', 'host': 'gpu-c', 'id': 'x'}
    vgpu = c.post('/v1/vgpus', {'compute_percent': 10, 'memory_mb': 1000,
                                'locality': 'local', 'consumer': consumer}).json
    device = vgpu['slices'][0]['device_uuid']
    with open(health, 'w') as f:
        json.dump({device: 'XID 79: GPU has fallen off the bus'}, f)
    stack.wait_for(lambda: c.get('/v1/devices/' + device).json['health'] == 'unhealthy',
                   'the device to turn unhealthy')
    assert 'XID 79' in c.get('/v1/devices/' + device).json['health_reason']
    assert c.get('/v1/devices?health=unhealthy').json['devices'][0]['uuid'] == device
    assert c.get('/v1/vgpus/' + vgpu['uuid']).json['health'] == 'degraded'
    again = c.post('/v1/vgpus', {'compute_percent': 10, 'memory_mb': 1000,
                                 'locality': 'local', 'consumer': consumer})
    assert again.status_int == 409


def test_host_down_when_heartbeats_stop(mysql_db):
    s = fixtures.Stack(mysql_db.url, [('gpu-x', 'f', 'nvidia:A100-SXM4-80GB:81920:108:1')],
                       overrides={('conductor', 'host_down_after'): 2}).start()
    try:
        c = s.client
        s.stop_service('gpu-x')
        s.wait_for(lambda: c.get('/v1/hosts/gpu-x').json['state'] == 'down', 'host down')
        resp = c.post('/v1/vgpus', {'compute_percent': 10, 'memory_mb': 1000})
        assert resp.status_int == 409
        assert c.get('/v1/hosts?state=down').json['hosts'][0]['name'] == 'gpu-x'
    finally:
        s.stop()


def test_every_state_survives_a_restart(mysql_db):
    hosts = [('gpu-r', 'f', 'nvidia:A100-SXM4-80GB:81920:108:1')]
    s = fixtures.Stack(mysql_db.url, hosts, overrides={('conductor', 'stuck_after'): 1}).start()
    c = s.client
    active = c.post('/v1/vgpus', {'compute_percent': 10, 'memory_mb': 1000}).json
    s.wait_state(active['uuid'], ('ACTIVE',))
    # The conductor dies; a claim made meanwhile stays SCHEDULED...
    s.stop_service('conductor')
    pending = c.post('/v1/vgpus', {'compute_percent': 10, 'memory_mb': 1000}).json
    assert c.delete('/v1/vgpus/' + active['uuid']).status_int == 202
    s.stop()
    # ...and a whole new set of processes on the same DB drives both home.
    s2 = fixtures.Stack(mysql_db.url, hosts, overrides={('conductor', 'stuck_after'): 1}).start()
    try:
        assert s2.wait_state(pending['uuid'], ('ACTIVE',), timeout=30)['state'] == 'ACTIVE'
        assert s2.wait_state(active['uuid'], ('DELETED',), timeout=30)['state'] == 'DELETED'
        dev = s2.client.get('/v1/devices').json['devices'][0]
        assert dev['used']['compute_percent'] == 10
    finally:
        s2.stop()


def test_hard_isolation_snaps_to_a_mig_shape(stack):
    c = stack.client
    resp = c.post('/v1/vgpus', {'compute_percent': 10, 'memory_mb': 5000, 'isolation': 'hard',
                                'models': ['A100-SXM4-80GB']})
    assert resp.status_int == 201, resp.text
    vgpu = resp.json
    # The smallest A100 MIG profile that holds 10 % and 5000 MiB is 1g.10gb.
    assert (vgpu['memory_mb'], vgpu['slices'][0]['memory_mb']) == (10240, 10240)
    device = c.get('/v1/devices/' + vgpu['slices'][0]['device_uuid']).json
    assert {'compute_percent': vgpu['compute_percent'], 'memory_mb': 10240} in \
        device['partitions']
    active = stack.wait_state(vgpu['uuid'], ('ACTIVE',))
    attachment = active['attachment']['slices'][0]
    assert attachment['plugin'] == 'mig'
    assert attachment['partition']['profile'] == '1g.10gb'
    assert attachment['partition']['uuid'].startswith('MIG-')


def test_hosts_report_what_their_agent_measured_or_was_told(mysql_db):
    # gpu-m sets neither [agent] cpu_milli nor ram_mb: it reports this machine (as the agent
    # sees it); gpu-o has both set: the operator's values win.
    s = fixtures.Stack(mysql_db.url, [('gpu-m', 'f', 'nvidia:A100-SXM4-80GB:81920:108:1')]).start()
    try:
        conf = s.agent_conf('gpu-o', 'f', '')
        conf.set_override('cpu_milli', 1500, group='agent')
        conf.set_override('ram_mb', 2048, group='agent')
        svc = pooling_service.AgentService(conf, s.transport)
        svc.start()
        s.services['gpu-o'] = svc
        s.wait_for(lambda: 'gpu-o' in {h['name'] for h in s.client.get('/v1/hosts').json[
            'hosts']}, 'gpu-o to report')
        hosts = {h['name']: h for h in s.client.get('/v1/hosts').json['hosts']}
        measured = capacity.probe()
        assert hosts['gpu-m']['cpu_milli'] == measured.cpu_milli > 0
        assert hosts['gpu-m']['ram_mb'] == measured.ram_mb > 0
        assert (hosts['gpu-o']['cpu_milli'], hosts['gpu-o']['ram_mb']) == (1500, 2048)
    finally:
        s.stop()
