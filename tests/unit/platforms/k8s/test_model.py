"""DeviceClasses and ResourceSlices from the pool's books, validated for Kubernetes 1.37."""

import kubernetes_validate
import pytest

from pooling_drivers.platforms.kubernetes import model
from tests.unit.platforms.k8s import pool_data as P


def view(vgpus=()):
    return model.PoolView(P.booked(P.DEVICES, vgpus), P.HOSTS, P.PROFILES, list(vgpus))


def validate(obj):
    kubernetes_validate.validate(obj, '1.37.0', strict=True)


def test_every_object_is_valid_for_1_37_strict():
    objs = model.device_classes(view())
    for slices in model.with_generations(model.resource_slices(view()), {}).values():
        objs += slices
    assert len(objs) > 4
    for obj in objs:
        validate(obj)


def test_strict_validation_can_fail():
    (cls, *_rest) = model.device_classes(view())
    cls['spec']['selectors'][0]['cell'] = cls['spec']['selectors'][0].pop('cel')
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(cls)


def test_device_classes_one_per_single_card_profile():
    classes = {c['metadata']['name']: c for c in model.device_classes(view())}
    assert sorted(classes) == ['a100-quarter.pooling.openstack.org',
                               'half-local.pooling.openstack.org']
    expr = classes['half-local.pooling.openstack.org']['spec']['selectors'][0]['cel'][
        'expression']
    assert 'profile == "half-local"' in expr and 'locality == "local"' in expr
    assert classes['half-local.pooling.openstack.org']['spec']['extendedResourceName'] == (
        'pooling.openstack.org/half-local')


def _by_pool():
    return model.resource_slices(view())


def test_devices_per_card_and_profile_with_remote_twins():
    pools = _by_pool()
    assert sorted(pools) == ['node-a', 'node-b']
    counters, devices = pools['node-a']
    assert [c['name'] for c in counters['spec']['sharedCounters']] == [
        model.counter_set(P.GPU_A0), model.counter_set(P.GPU_A1)]
    devs = devices['spec']['devices']
    local_quarters = [d for d in devs if d['attributes']['profile']['string'] == 'a100-quarter'
                      and 'nodeName' in d]
    remote_quarters = [d for d in devs if 'nodeSelector' in d]
    halves = [d for d in devs if d['attributes']['profile']['string'] == 'half-local']
    # Four quarters and two halves per card; quarters also reachable from the fabric.
    assert len(local_quarters) == 8 and len(remote_quarters) == 8 and len(halves) == 4
    assert all(d['nodeName'] == 'node-a' for d in halves)
    term = remote_quarters[0]['nodeSelector']['nodeSelectorTerms'][0]['matchExpressions'][0]
    assert term == {'key': model.FABRIC_LABEL, 'operator': 'In', 'values': ['fab-1']}
    # H100 host: no A100 profile, only halves.
    (_c, bdevs) = pools['node-b']
    assert {d['attributes']['profile']['string'] for d in bdevs['spec']['devices']} == {
        'half-local'}
    for s in pools['node-a']:
        assert s['spec']['pool']['resourceSliceCount'] == 2


def test_capacity_held_elsewhere_shrinks_the_counters_and_kubernetes_own_does_not():
    nova = P.vgpu('v1', 'nova', P.GPU_A0, 50.0, 40960)
    pod = P.vgpu('v2', 'kubernetes', P.GPU_A0, 25.0, 20480)
    counters = model.resource_slices(view([nova, pod]))['node-a'][0]['spec']['sharedCounters']
    card0 = counters[0]['counters']
    assert card0 == {'memory': {'value': '40960Mi'}, 'compute': {'value': '500'}}
    assert counters[1]['counters']['memory'] == {'value': '81920Mi'}


def test_a_nova_vgpu_missing_from_a_capped_list_is_still_not_offered():
    nova = P.vgpu('v1', 'nova', P.GPU_A0, 50.0, 40960)
    capped = model.PoolView(P.booked(P.DEVICES, [nova]), P.HOSTS, P.PROFILES, [])
    counters = model.resource_slices(capped)['node-a'][0]['spec']['sharedCounters']
    assert counters[0]['counters']['memory'] == {'value': '40960Mi'}


def test_unhealthy_card_offers_nothing():
    devices = [dict(P.DEVICES[0], health='unhealthy')] + P.DEVICES[1:]
    v = model.PoolView(devices, P.HOSTS, P.PROFILES, [])
    c = model.resource_slices(v)['node-a'][0]['spec']['sharedCounters'][0]['counters']
    assert c['compute'] == {'value': '0'}


def test_generation_grows_only_when_content_changes():
    wanted = model.resource_slices(view())
    first = model.with_generations(wanted, {})
    digest = model.content_digest(first['node-a'])
    same = model.with_generations(wanted, {'node-a': (1, digest)})
    assert same['node-a'][0]['spec']['pool']['generation'] == 1
    changed = model.resource_slices(view([P.vgpu('v1', 'nova', P.GPU_A0, 50.0, 40960)]))
    bumped = model.with_generations(changed, {'node-a': (1, digest)})
    assert {s['spec']['pool']['generation'] for s in bumped['node-a']} == {2}


def test_many_cards_split_into_slices_within_limits():
    devices = [P.device(f'{i:08d}-aaaa-4000-8000-000000000000', 'node-a') for i in range(20)]
    pools = model.resource_slices(model.PoolView(devices, P.HOSTS, P.PROFILES, []))
    slices = pools['node-a']
    for s in slices:
        assert len(s['spec'].get('sharedCounters', ())) <= model.MAX_COUNTER_SETS_PER_SLICE
        assert len(s['spec'].get('devices', ())) <= model.MAX_DEVICES_PER_SLICE
        assert s['spec']['pool']['resourceSliceCount'] == len(slices)
        validate(model.with_generations({'p': [s]}, {})['p'][0])
    names = [d['name'] for s in slices for d in s['spec'].get('devices', ())]
    assert len(names) == len(set(names)) == 20 * (4 + 4 + 2)
