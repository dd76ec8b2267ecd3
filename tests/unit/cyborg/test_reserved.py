"""Keeping Placement in step: the reserved formula and the generation-checked writer.

``FakePlacement`` stands in for Placement 1.26 behind ``PlacementClient``'s
methods, with Placement's rules that matter here: every write bumps the
provider generation, a write naming an older generation is refused, a whole
inventory PUT replaces every field. The HTTP side of the client runs against
a real Placement in tests/functional/cyborg/test_placement.py.
"""

import collections
import itertools
import json

from oslo_config import cfg
import pytest

from pooling.cyborg import opts
from pooling.cyborg import placement as placement_client
from pooling.cyborg import reserved

RC = 'CUSTOM_POOL_QUARTER'
QUARTER = {'name': 'quarter'}


def _inv(total, reserved_=0):
    return {'total': total, 'reserved': reserved_, 'min_unit': 1, 'max_unit': total,
            'step_size': 1, 'allocation_ratio': 1.0}


class FakePlacement:
    def __init__(self):
        self.rps, self.calls = {}, []

    def add(self, name, inventories, allocations=None):
        uuid = 'rp-%d' % len(self.rps)
        self.rps[uuid] = {'uuid': uuid, 'name': name, 'generation': 1,
                          'inventories': inventories, 'allocations': allocations or {}}
        return uuid

    def external_write(self, uuid, **inventories):
        """What Cyborg's conductor does when N changes: a whole PUT, reserved back to 0."""
        rp = self.rps[uuid]
        rp['inventories'] = inventories
        rp['generation'] += 1

    def providers(self, trait):
        self.calls.append(('providers', trait))
        return [{'uuid': u, 'name': r['name'], 'generation': r['generation']}
                for u, r in self.rps.items()]

    def inventories(self, uuid):
        self.calls.append(('inventories', uuid))
        rp = self.rps[uuid]
        return rp['generation'], json.loads(json.dumps(rp['inventories']))

    def allocations(self, uuid):
        self.calls.append(('allocations', uuid))
        rp = self.rps[uuid]
        return rp['generation'], json.loads(json.dumps(rp['allocations']))

    def set_inventories(self, uuid, generation, inventories):
        self.calls.append(('put', uuid))
        rp = self.rps[uuid]
        if generation != rp['generation']:
            raise placement_client.GenerationConflict('placement.concurrent_update')
        rp['inventories'] = json.loads(json.dumps(inventories))
        rp['generation'] += 1
        return rp['generation']


def _conf():
    conf = cfg.ConfigOpts()
    opts.register_opts(conf)
    conf([])
    return conf


def _pass(placement, free, held=None, cache=None, profiles=None):
    return reserved.Pass(_conf(), placement, {} if cache is None else cache,
                         profiles={RC: QUARTER} if profiles is None else profiles,
                         held=held or {}, free=lambda profile, host: free[(profile['name'],
                                                                           host)])


def test_free_in_placement_is_what_the_pool_can_give():
    assert reserved.reserved(8, 0, 8) == 0
    assert reserved.reserved(8, 0, 4) == 4
    assert reserved.reserved(8, 0, 0) == 8  # 1.26+: reserved may equal total
    assert reserved.reserved(8, 2, 3) == 3
    assert reserved.reserved(4, 0, 8) == 0  # total lags a pool that grew: never below 0
    assert reserved.reserved(4, 5, 0) == 0  # already over capacity: nothing to take
    for total, used, can_give in itertools.product(range(6), range(6), range(8)):
        r = reserved.reserved(total, used, can_give)
        assert 0 <= r <= total
        if used <= total:
            assert total - r - used == min(can_give, total - used)


def test_pending_counts_allocations_without_a_vgpu():
    allocations = {'i1': {RC: 1}, 'i2': {RC: 1}, 'i3': {'CUSTOM_OTHER': 1}, 'i4': {RC: 2}}
    assert reserved.pending(allocations, RC, collections.Counter(i1=1, i4=1)) == 2
    assert reserved.pending(allocations, RC, collections.Counter(i1=2)) == 3
    assert reserved.pending({}, RC, collections.Counter(i1=1)) == 0


def test_host_is_the_deployable_name_less_the_device_profile():
    assert reserved._host('cmp-1_pool-quarter', 'pool-', QUARTER) == 'cmp-1'
    assert reserved._host('cmp_1_a_pool-quarter', 'pool-', QUARTER) == 'cmp_1_a'
    assert reserved._host('_pool-quarter', 'pool-', QUARTER) is None
    assert reserved._host('cmp-1_pool-half', 'pool-', QUARTER) is None


def test_reserved_follows_the_pool_and_allocations_pending_a_vgpu():
    p = FakePlacement()
    rp = p.add('cmp-1_pool-quarter', {RC: _inv(8)}, {'i1': {RC: 1}, 'i2': {RC: 1}})
    # i1 has its vGPU; i2 was claimed by Nova and is not bound yet: it will take 1 of the 4
    step = _pass(p, {('quarter', 'cmp-1'): 4}, held={('cmp-1', 'quarter'): {'i1': 1}})
    assert step.one(p.providers('CUSTOM_POOLING')[0]) == {RC: 8 - 2 - 3}
    inv = p.rps[rp]['inventories'][RC]
    assert inv == dict(_inv(8), reserved=3)  # every other field as Cyborg wrote it
    assert inv['total'] - inv['reserved'] - 2 == 3


def test_nothing_written_or_read_when_nothing_changed():
    p = FakePlacement()
    p.add('cmp-1_pool-quarter', {RC: _inv(8, 4)})
    cache = {}
    step = _pass(p, {('quarter', 'cmp-1'): 4}, cache=cache)
    assert step.one(p.providers('x')[0]) == {}
    assert [c[0] for c in p.calls] == ['providers', 'inventories', 'allocations']
    p.calls.clear()
    assert step.one(p.providers('x')[0]) == {}  # same generation: the cache answers
    assert p.calls == [('providers', 'x')]


def test_allocations_are_read_again_while_there_are_some():
    """Placement does not bump a provider's generation when allocations are deleted."""
    p = FakePlacement()
    rp = p.add('cmp-1_pool-quarter', {RC: _inv(8, 3)}, {'i1': {RC: 1}})
    step = _pass(p, {('quarter', 'cmp-1'): 4}, held={('cmp-1', 'quarter'): {'i1': 1}})
    assert step.one(p.providers('x')[0]) == {}  # 8 - 3 - 1 = 4 free
    # Nova deleted the server's allocation (same generation); its vGPU still holds capacity
    p.rps[rp]['allocations'] = {}
    p.calls.clear()
    assert step.one(p.providers('x')[0]) == {RC: 4}
    assert [c[0] for c in p.calls] == ['providers', 'allocations', 'put']


def test_a_generation_conflict_is_read_and_decided_again():
    p = FakePlacement()
    rp = p.add('cmp-1_pool-quarter', {RC: _inv(8)})
    listed = p.providers('x')[0]
    step = _pass(p, {('quarter', 'cmp-1'): 2})
    step._read(listed)
    # Cyborg's conductor rewrites the inventory (its next report: 6 slots, reserved 0)
    p.external_write(rp, **{RC: _inv(6)})
    assert step.one(listed) == {RC: 4}
    assert [c[0] for c in p.calls].count('put') == 2
    assert p.rps[rp]['inventories'][RC] == dict(_inv(6), reserved=4)


def test_a_provider_that_keeps_changing_fails_after_a_few_tries():
    class Busy(FakePlacement):
        def set_inventories(self, uuid, generation, inventories):
            self.rps[uuid]['generation'] += 1
            raise placement_client.GenerationConflict('busy')

    p = Busy()
    p.add('cmp-1_pool-quarter', {RC: _inv(8)})
    with pytest.raises(placement_client.PlacementError, match='3 times'):
        _pass(p, {('quarter', 'cmp-1'): 0}).one(p.providers('x')[0])


def test_gone_profiles_give_nothing_and_other_classes_are_left_alone():
    p = FakePlacement()
    rp = p.add('cmp-1_pool-old', {'CUSTOM_POOL_OLD': _inv(4), 'CUSTOM_FPGA': _inv(2)},
               {'i1': {'CUSTOM_POOL_OLD': 1}})
    odd = p.add('renamed-deployable', {RC: _inv(4)})
    step = _pass(p, {})
    assert step.one(p.rps[rp] | {'generation': 1}) == {'CUSTOM_POOL_OLD': 3}
    assert p.rps[rp]['inventories']['CUSTOM_FPGA'] == _inv(2)
    # a provider of a known profile not named <host>_<device profile>: no guess, no write
    assert step.one(p.rps[odd] | {'generation': 1}) == {}


def test_sync_reports_failures_per_provider_and_forgets_gone_ones(monkeypatch):
    p = FakePlacement()
    good = p.add('cmp-1_pool-quarter', {RC: _inv(8)})
    bad = p.add('cmp-2_pool-quarter', {RC: _inv(8)})

    def boom(uuid):
        if uuid == bad:
            raise placement_client.PlacementError('GET -> 500')
        return FakePlacement.inventories(p, uuid)

    p.inventories = boom
    monkeypatch.setattr(reserved.profile_obj, 'list_profiles', lambda ctx: [QUARTER])
    monkeypatch.setattr(reserved, 'held_by_instance', lambda ctx: {})
    monkeypatch.setattr(reserved, '_free_counter', lambda ctx, conf: lambda prof, host: 1)
    cache = {'rp-gone': (1, {}, {})}
    out = reserved.sync(None, _conf(), p, cache)
    assert out == {'updated': {'cmp-1_pool-quarter': {RC: 7}},
                   'failed': {'cmp-2_pool-quarter': 'GET -> 500'}}
    assert set(cache) == {good}


class _Resp:
    def __init__(self, status, body):
        self.status_code, self.text = status, json.dumps(body)

    def json(self):
        return json.loads(self.text)


class _Adapter:
    def __init__(self, *answers):
        self.answers, self.seen = list(answers), []

    def request(self, path, method, **kw):
        self.seen.append((method, path, kw))
        return self.answers.pop(0)


def test_client_reads_a_trait_nobody_created_as_no_providers():
    missing = {'errors': [{'status': 400, 'title': 'Bad Request', 'detail': 'Invalid '
                           'trait(s) in "required" parameter: No such trait(s): '
                           'CUSTOM_POOLING.'}]}
    client = placement_client.PlacementClient(None, adapter=_Adapter(
        _Resp(400, missing), _Resp(400, {'errors': [{'detail': 'bad'}]})))
    assert client.providers('CUSTOM_POOLING') == []
    with pytest.raises(placement_client.PlacementError):
        client.providers('CUSTOM_POOLING')


def test_client_pins_1_26_and_maps_generation_conflicts():
    conflict = {'errors': [{'status': 409, 'code': 'placement.concurrent_update',
                            'title': 'Conflict', 'detail': 'resource provider generation '
                            'conflict'}]}
    adapter = _Adapter(_Resp(200, {'resource_provider_generation': 3, 'allocations': {
        'i1': {'resources': {RC: 1}}}}), _Resp(409, conflict), _Resp(400, {'errors': []}))
    client = placement_client.PlacementClient(None, adapter=adapter)
    assert client.allocations('rp') == (3, {'i1': {RC: 1}})
    method, path, kw = adapter.seen[0]
    assert kw['headers'] == {'OpenStack-API-Version': 'placement 1.26'}
    with pytest.raises(placement_client.GenerationConflict):
        client.set_inventories('rp', 3, {})
    with pytest.raises(placement_client.PlacementError) as err:
        client.set_inventories('rp', 3, {})
    assert not isinstance(err.value, placement_client.GenerationConflict)
