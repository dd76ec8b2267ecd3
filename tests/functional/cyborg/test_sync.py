"""The pool's Cyborg side on a real pool (MariaDB, RabbitMQ, sim agents): the slots view,
publishing, bound ARQs becoming vGPUs, Nova's vendordata, and release when ARQs go.

Cyborg itself is a small in-memory stand-in here (fakes.py); tests/openstack runs the real one.
"""

from pooling import context as pooling_context
from pooling.cyborg import opts
from pooling.cyborg import sync
from tests.functional.cyborg import fakes


def _by_profile(client, host):
    resp = client.get('/v1/slots?host=' + host)
    assert resp.status_int == 200, resp.text
    return {s['profile']: s for s in resp.json['slots']}


def test_slots_publish_bind_vendordata_release(stack):
    conf = opts.ensure(stack.conf)
    conf.set_override('enabled', True, group='cyborg')
    c = stack.client
    for body in ({'name': 'quarter', 'compute_percent': 25, 'memory_mb': 10240,
                  'models': ['A100-SXM4-80GB']},
                 {'name': 'a100-whole', 'compute_percent': 100, 'memory_mb': 81920,
                  'models': ['A100-SXM4-80GB'], 'locality': 'local'}):
        assert c.post('/v1/profiles', body).status_int == 201
    before = {d['uuid']: d['free'] for d in c.get('/v1/devices').json['devices']}

    # What each Nova host can get: gpu-a has 2 A100s; cpu-1 reaches them over fab-1.
    gpu_a, cpu_1 = _by_profile(c, 'gpu-a'), _by_profile(c, 'cpu-1')
    assert gpu_a['a100-whole']['total'] == 2
    assert {h['type'] for h in gpu_a['a100-whole']['handles']} == {'PCI'}
    assert gpu_a['quarter']['total'] == 8 and gpu_a['quarter']['local'] == 8
    assert cpu_1['quarter']['total'] == 8 and cpu_1['quarter']['remote'] == 8
    assert cpu_1['a100-whole']['total'] == 0  # local only, and cpu-1 has no card
    assert cpu_1['quarter']['resource_class'] == 'CUSTOM_POOL_QUARTER'
    assert c.as_('p1', 'member,reader').get('/v1/slots?host=cpu-1').status_int == 403

    ctx = pooling_context.get_admin_context()
    conductor = stack.services['conductor'].endpoint
    cyborg = fakes.FakeCyborg()
    out = sync.run_once(ctx, conf, conductor=conductor, cyborg=cyborg)
    assert sorted(out['published']['created']) == ['pool-a100-whole', 'pool-quarter']

    remote = fakes.bound_arq('pool-quarter', 'cpu-1')
    whole_handle = gpu_a['a100-whole']['handles'][1]['info']
    pinned = fakes.bound_arq('pool-a100-whole', 'gpu-a', 'PCI', whole_handle)
    cyborg.arqs = [remote, pinned, dict(fakes.bound_arq('pool-quarter', 'cpu-1'), state='Initial')]
    out = sync.run_once(ctx, conf, conductor=conductor, cyborg=cyborg)
    assert len(out['arqs']['bound']) == 2 and out['arqs']['failed'] == {}
    # Nova is not configured here: each vGPU is named after its instance.
    vgpus = {v['name']: v for v in c.get('/v1/vgpus?all_projects=true').json['vgpus']}
    v_remote = stack.wait_state(vgpus[remote['instance_uuid']]['uuid'], ('ACTIVE',))
    assert v_remote['consumer'] == {'platform': 'nova', 'host': 'cpu-1',
                                    'id': remote['instance_uuid']}
    assert v_remote['project_id'] == remote['project_id']
    assert v_remote['slices'][0]['host'] == 'gpu-a' and v_remote['attachment']['remote']
    v_whole = vgpus[pinned['instance_uuid']]
    assert v_whole['slices'][0]['device_uuid'] == whole_handle['pool_device']
    assert sync.run_once(ctx, conf, conductor=conductor, cyborg=cyborg)['arqs']['bound'] == []
    # The whole card is gone from the quarter slots (3 free left on the other card);
    # the held quarter still counts, so Placement's allocation stays inside the inventory.
    assert _by_profile(c, 'cpu-1')['quarter']['total'] == 3 + 1
    assert _by_profile(c, 'cpu-1')['quarter']['in_use'] == 1

    nova = c.as_('service-project', 'service')
    body = {'instance-id': remote['instance_uuid'], 'project-id': remote['project_id'],
            'hostname': 'vm1', 'image-id': 'i', 'user-data': None, 'metadata': {}}
    resp = nova.post('/v1/vendordata', body)
    assert resp.status_int == 200, resp.text
    [seen] = resp.json['vgpus']
    assert seen['uuid'] == v_remote['uuid'] and seen['attachment']['remote']['endpoints']
    [lease] = resp.json['leases']  # a fresh credential for the guest, only here
    assert lease['vgpu_uuid'] == v_remote['uuid'] and len(lease['token']) >= 43
    assert 'token' not in seen['attachment']['remote']
    assert nova.post('/v1/vendordata', dict(body, **{'project-id': 'other'})).json == {
        'vgpus': [], 'leases': []}
    assert c.as_(remote['project_id'], 'member,reader').post(
        '/v1/vendordata', body).status_int == 403

    cyborg.arqs = [pinned]  # the server of `remote` was deleted
    out = sync.run_once(ctx, conf, conductor=conductor, cyborg=cyborg)
    assert out['arqs']['released'] == [v_remote['uuid']]
    stack.wait_state(v_remote['uuid'], ('DELETED',))
    cyborg.arqs = []
    sync.run_once(ctx, conf, conductor=conductor, cyborg=cyborg)
    stack.wait_state(v_whole['uuid'], ('DELETED',))
    after = {d['uuid']: d['free'] for d in c.get('/v1/devices').json['devices']}
    assert after == before


def test_nothing_released_when_cyborg_cannot_be_listed(stack):
    conf = opts.ensure(stack.conf)
    conf.set_override('enabled', True, group='cyborg')

    class Down(fakes.FakeCyborg):
        def list_arqs(self):
            raise RuntimeError('cyborg down')

    out = sync.run_once(pooling_context.get_admin_context(), conf,
                        conductor=stack.services['conductor'].endpoint, cyborg=Down())
    assert 'arqs' not in out and out['published'] == {'created': [], 'updated': [],
                                                      'deleted': []}
