"""Placement kept in step with the pool, on a real pool and a real Placement (MariaDB).

Cyborg is the in-memory stand-in of fakes.py; the deployable and Nova's
claims are written into Placement the way Cyborg's conductor and Nova's
scheduler write them (tests/openstack runs the real ones).
"""

import uuid

from pooling import context as pooling_context
from pooling.cyborg import opts
from pooling.cyborg import placement as placement_client
from pooling.cyborg import sync
from tests.functional.cyborg import fakes

RC = 'CUSTOM_POOL_QUARTER'
RP_NAME = 'gpu-a_pool-quarter'
MODEL = 'A100-SXM4-80GB'


def _deployable(placement, host, total):
    """A compute node RP and our deployable under it, as Nova and Cyborg's conductor make them."""
    compute, child = str(uuid.uuid4()), str(uuid.uuid4())
    placement.call('POST', '/resource_providers', {'name': host, 'uuid': compute})
    placement.call('PUT', '/resource_classes/' + RC)
    placement.call('PUT', '/traits/CUSTOM_POOLING')
    placement.call('POST', '/resource_providers', {'name': RP_NAME, 'uuid': child,
                                                   'parent_provider_uuid': compute})
    placement.call('PUT', '/resource_providers/%s/inventories' % child, {
        'resource_provider_generation': 0,
        'inventories': {RC: {'total': total, 'max_unit': total}}})
    placement.call('PUT', '/resource_providers/%s/traits' % child, {
        'resource_provider_generation': 1, 'traits': ['CUSTOM_POOLING']})
    return child


def _claim(placement, rp, consumer):
    """Nova's scheduler claim: True when Placement took it, False on 409 (no capacity)."""
    body = {'allocations': {rp: {'resources': {RC: 1}}}, 'project_id': uuid.uuid4().hex,
            'user_id': uuid.uuid4().hex, 'consumer_generation': None, 'consumer_type': 'INSTANCE'}
    return placement.call('PUT', '/allocations/' + consumer, body, ok=(204, 409)) is None


def _inventory(placement, rp):
    inv = placement.call('GET', '/resource_providers/%s/inventories' % rp)['inventories'][RC]
    used = placement.call('GET', '/resource_providers/%s/usages' % rp)['usages'].get(RC, 0)
    return {'total': inv['total'], 'reserved': inv['reserved'],
            'free': inv['total'] - inv['reserved'] - used}


def test_placement_follows_the_pool_and_a_bind_that_slips_through_holds_nothing(
        stack, placement):
    conf = opts.ensure(stack.conf)
    conf.set_override('enabled', True, group='cyborg')
    c = stack.client
    assert c.post('/v1/profiles', {'name': 'quarter', 'compute_percent': 25,
                                   'memory_mb': 20480, 'models': [MODEL]}).status_int == 201
    rp = _deployable(placement, 'gpu-a', 8)  # the driver's report: 2 A100s x 4 quarters
    ctx = pooling_context.get_admin_context()
    cyborg = fakes.FakeCyborg()
    client = placement_client.PlacementClient(conf, adapter=placement.adapter)

    def run():
        return sync.run_once(ctx, conf, conductor=stack.services['conductor'].endpoint,
                             cyborg=cyborg, placement=client)

    def take(percent, memory_mb, name):
        resp = c.post('/v1/vgpus', {'name': name, 'compute_percent': percent,
                                    'memory_mb': memory_mb, 'models': [MODEL],
                                    'consumer': {'platform': 'cdi', 'host': 'gpu-a',
                                                 'id': name}})
        assert resp.status_int == 201, resp.text
        return resp.json['uuid']

    def give_back(vgpu):
        assert c.delete('/v1/vgpus/' + vgpu).status_int == 202
        stack.wait_state(vgpu, ('DELETED',))

    assert run()['placement'] == {'updated': {}, 'failed': {}}
    assert _inventory(placement, rp) == {'total': 8, 'reserved': 0, 'free': 8}

    # Another platform takes a whole card: the next pass hides its 4 quarters from Nova,
    # long before Cyborg's next report would shrink the inventory.
    whole = take(100, 81920, 'whole-card')
    assert run()['placement']['updated'] == {RP_NAME: {RC: 4}}
    assert _inventory(placement, rp) == {'total': 8, 'reserved': 4, 'free': 4}

    # Nova claims one; until the reconciler has its vGPU the claim counts as pending.
    inst1 = str(uuid.uuid4())
    assert _claim(placement, rp, inst1)
    assert run()['placement']['updated'] == {}
    assert _inventory(placement, rp)['free'] == 3
    arq1 = dict(fakes.bound_arq('pool-quarter', 'gpu-a'), instance_uuid=inst1)
    cyborg.arqs = [arq1]
    out = run()
    [vgpu1] = out['arqs']['bound']
    assert out['arqs']['unbound'] == {}
    assert _inventory(placement, rp) == {'total': 8, 'reserved': 4, 'free': 3}

    # The rest of the second card goes elsewhere: Placement refuses Nova's next claim,
    # which is what makes Nova's scheduler try another host (or say NoValidHost).
    rest = take(75, 61440, 'three-quarters')
    assert run()['placement']['updated'] == {RP_NAME: {RC: 7}}
    assert _inventory(placement, rp)['free'] == 0
    inst2 = str(uuid.uuid4())
    assert not _claim(placement, rp, inst2)

    # The race that remains: Nova claims while the capacity is free, and the capacity
    # is taken before the pass sees the bind. Nothing is double-allocated: the ARQ
    # gets an ERROR vGPU holding nothing, and is retried every pass.
    give_back(rest)
    run()
    assert _inventory(placement, rp)['free'] == 3
    assert _claim(placement, rp, inst2)
    rest = take(75, 61440, 'three-quarters-again')
    devices_before = {d['uuid']: d['free'] for d in c.get('/v1/devices').json['devices']}
    arq2 = dict(fakes.bound_arq('pool-quarter', 'gpu-a'), instance_uuid=inst2)
    cyborg.arqs = [arq1, arq2]
    for _ in range(2):
        out = run()
        [record] = [v for v in c.get('/v1/vgpus?all_projects=true').json['vgpus']
                    if v['name'] == inst2]
        assert out['arqs']['bound'] == []
        assert out['arqs']['unbound'] == {arq2['uuid']: {
            'instance': inst2, 'host': 'gpu-a', 'vgpu': record['uuid']}}
        assert record['state'] == 'ERROR' and record['slices'] == []
        assert record['state_reason'].startswith('bound by Cyborg but no capacity: ')
        assert record['consumer'] == {'platform': 'nova', 'host': 'gpu-a', 'id': inst2}
        assert {d['uuid']: d['free'] for d in c.get('/v1/devices').json['devices']} == (
            devices_before)
        # inst2 holds a Placement unit but no vGPU: nothing more is offered
        assert _inventory(placement, rp) == {'total': 8, 'reserved': 6, 'free': 0}

    # Capacity comes back: the next pass claims the vGPU and retires the record.
    give_back(rest)
    out = run()
    [vgpu2] = out['arqs']['bound']
    assert out['arqs']['unbound'] == {}
    stack.wait_state(vgpu2, ('ACTIVE',))
    assert c.get('/v1/vgpus/' + record['uuid']).json['state'] == 'DELETED'
    assert _inventory(placement, rp) == {'total': 8, 'reserved': 4, 'free': 2}

    # Cyborg's conductor rewrites the inventory when its report changes (reserved back
    # to 0); the next pass puts it right, against the new generation.
    gen = placement.call('GET', '/resource_providers/' + rp)['generation']
    placement.call('PUT', '/resource_providers/%s/inventories' % rp, {
        'resource_provider_generation': gen, 'inventories': {RC: {'total': 6, 'max_unit': 6}}})
    assert _inventory(placement, rp)['free'] == 4
    assert run()['placement']['updated'] == {RP_NAME: {RC: 2}}
    assert _inventory(placement, rp) == {'total': 6, 'reserved': 2, 'free': 2}

    # Nova deletes server 2: its allocation goes first (Placement does not bump the
    # provider generation for that), its ARQ a moment later. Until the vGPU is
    # released it still holds the pool's capacity, so nothing more is offered.
    placement.call('DELETE', '/allocations/' + inst2)
    assert run()['placement']['updated'] == {RP_NAME: {RC: 3}}
    assert _inventory(placement, rp) == {'total': 6, 'reserved': 3, 'free': 2}
    cyborg.arqs = [arq1]
    assert run()['arqs']['released'] == [vgpu2]
    stack.wait_state(vgpu2, ('DELETED',))
    run()  # (the pass that released it may already have seen the capacity back)
    assert _inventory(placement, rp) == {'total': 6, 'reserved': 2, 'free': 3}

    # Server 1 and the other platform's card go too: everything is offered again.
    placement.call('DELETE', '/allocations/' + inst1)
    cyborg.arqs = []
    assert run()['arqs']['released'] == [vgpu1]
    stack.wait_state(vgpu1, ('DELETED',))
    give_back(whole)
    run()
    assert _inventory(placement, rp) == {'total': 6, 'reserved': 0, 'free': 6}


def test_an_unbound_record_goes_when_its_arq_goes(stack, placement):
    conf = opts.ensure(stack.conf)
    conf.set_override('enabled', True, group='cyborg')
    c = stack.client
    assert c.post('/v1/profiles', {'name': 'huge', 'compute_percent': 100,
                                   'memory_mb': 163840, 'models': [MODEL]}).status_int == 201
    cyborg = fakes.FakeCyborg()
    arq = fakes.bound_arq('pool-huge', 'gpu-a')
    cyborg.arqs = [arq]
    ctx = pooling_context.get_admin_context()
    client = placement_client.PlacementClient(conf, adapter=placement.adapter)
    conductor = stack.services['conductor'].endpoint
    out = sync.run_once(ctx, conf, conductor=conductor, cyborg=cyborg, placement=client)
    [record] = out['arqs']['unbound'].values()
    assert c.get('/v1/vgpus/' + record['vgpu']).json['state'] == 'ERROR'
    cyborg.arqs = []
    out = sync.run_once(ctx, conf, conductor=conductor, cyborg=cyborg, placement=client)
    assert out['arqs'] == {'bound': [], 'released': [], 'failed': {}, 'unbound': {}}
    assert c.get('/v1/vgpus/' + record['vgpu']).json['state'] == 'DELETED'


def test_held_slots_make_every_bind_fit(stack, placement):
    """[cyborg] held_slots_per_profile = 1: Nova is offered only what the pool holds for it."""
    conf = opts.ensure(stack.conf)
    conf.set_override('enabled', True, group='cyborg')
    conf.set_override('held_slots_per_profile', 1, group='cyborg')
    c = stack.client
    assert c.post('/v1/profiles', {'name': 'quarter', 'compute_percent': 25,
                                   'memory_mb': 20480, 'models': [MODEL]}).status_int == 201
    # The driver's report in held mode: one slot per instance served plus the held one.
    [slots] = [s for s in c.get('/v1/slots?host=gpu-a').json['slots']
               if s['profile'] == 'quarter']
    assert (slots['total'], slots['in_use']) == (1, 0)
    # (Placement is shared by this module's tests: children first, then their computes.)
    for old in sorted(placement.call('GET', '/resource_providers')['resource_providers'],
                      key=lambda r: r['parent_provider_uuid'] is None):
        placement.call('DELETE', '/resource_providers/' + old['uuid'])
    rp = _deployable(placement, 'gpu-a', 1)
    ctx = pooling_context.get_admin_context()
    cyborg = fakes.FakeCyborg()
    client = placement_client.PlacementClient(conf, adapter=placement.adapter)
    conductor = stack.services['conductor'].endpoint

    def run():
        return sync.run_once(ctx, conf, conductor=conductor, cyborg=cyborg, placement=client)

    def holds():
        return [v for v in c.get('/v1/vgpus?all_projects=true').json['vgpus']
                if v['name'] == 'cyborg-hold-quarter@gpu-a']

    out = run()
    [hold] = holds()
    assert hold['consumer'] == {'platform': 'nova', 'host': 'gpu-a', 'id': None}
    assert out['placement']['holds_released'] == []
    assert _inventory(placement, rp) == {'total': 1, 'reserved': 0, 'free': 1}
    stack.wait_state(hold['uuid'], ('ACTIVE',))

    # Another platform takes everything else on gpu-a's cards: the held slot stays.
    taken = []
    while True:
        resp = c.post('/v1/vgpus', {'name': 'other-%d' % len(taken), 'compute_percent': 25,
                                    'memory_mb': 20480, 'models': [MODEL],
                                    'locality': 'local',
                                    'consumer': {'platform': 'cdi', 'host': 'gpu-a', 'id': 'x'}})
        if resp.status_int == 409:
            break
        assert resp.status_int == 201, resp.text
        taken.append(resp.json['uuid'])
    assert len(taken) == 7  # 2 A100s x 4 quarters, less the held one
    run()
    assert _inventory(placement, rp)['free'] == 1

    # Nova claims the held slot; a second claim is refused by Placement (Nova's
    # scheduler tries another host), before any bind.
    inst = str(uuid.uuid4())
    assert _claim(placement, rp, inst)
    assert not _claim(placement, rp, str(uuid.uuid4()))
    devices_before = {d['uuid']: d['free'] for d in c.get('/v1/devices').json['devices']}

    # The bind adopts the hold: no new claim, nothing unbound, the books unchanged.
    arq = dict(fakes.bound_arq('pool-quarter', 'gpu-a'), instance_uuid=inst)
    cyborg.arqs = [arq]
    out = run()
    assert out['arqs']['bound'] == [hold['uuid']] and out['arqs']['unbound'] == {}
    vgpu = c.get('/v1/vgpus/' + hold['uuid']).json
    assert vgpu['name'] == inst  # Nova is not configured here: its instance uuid
    assert vgpu['project_id'] == arq['project_id'] and vgpu['state'] == 'ACTIVE'
    assert vgpu['consumer'] == {'platform': 'nova', 'host': 'gpu-a', 'id': inst}
    assert {d['uuid']: d['free'] for d in c.get('/v1/devices').json['devices']} == (
        devices_before)
    assert holds() == []  # nothing left to hold: nothing more is offered
    assert _inventory(placement, rp)['free'] == 0

    # Capacity comes back: the next pass holds a slot again, Placement offers it once
    # Cyborg's report has raised the total (one instance served plus one held).
    for uuid_ in taken:
        assert c.delete('/v1/vgpus/' + uuid_).status_int == 202
    for uuid_ in taken:
        stack.wait_state(uuid_, ('DELETED',))
    run()
    assert len(holds()) == 1
    gen = placement.call('GET', '/resource_providers/' + rp)['generation']
    placement.call('PUT', '/resource_providers/%s/inventories' % rp, {
        'resource_provider_generation': gen, 'inventories': {RC: {'total': 2, 'max_unit': 2}}})
    run()
    assert _inventory(placement, rp) == {'total': 2, 'reserved': 0, 'free': 1}

    # Held mode off: the holds are given back at the next pass.
    conf.set_override('held_slots_per_profile', 0, group='cyborg')
    [released] = run()['placement']['holds_released']
    stack.wait_state(released, ('DELETED',))
    assert holds() == []

    # A profile with holds may be deleted (once no instance uses it); the next pass gives
    # its holds back.
    conf.set_override('held_slots_per_profile', 1, group='cyborg')
    placement.call('DELETE', '/allocations/' + inst)
    cyborg.arqs = []
    assert run()['arqs']['released'] == [hold['uuid']]
    stack.wait_state(hold['uuid'], ('DELETED',))
    [again] = holds()
    assert c.delete('/v1/profiles/quarter').status_int == 204
    assert run()['placement']['holds_released'] == [again['uuid']]
    stack.wait_state(again['uuid'], ('DELETED',))
