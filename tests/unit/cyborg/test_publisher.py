"""Publishing pool profiles as Cyborg device profiles: names, groups, idempotence."""

from oslo_config import cfg

from pooling.cyborg import naming
from pooling.cyborg import opts
from pooling.cyborg import publisher


class FakeCyborg:
    def __init__(self, profiles=()):
        self.profiles = {p['name']: p for p in profiles}
        self.calls = []

    def list_device_profiles(self):
        return list(self.profiles.values())

    def create_device_profile(self, name, groups, description=''):
        self.calls.append(('create', name))
        self.profiles[name] = {'name': name, 'uuid': 'u-' + name, 'groups': groups}

    def delete_device_profile(self, uuid):
        self.calls.append(('delete', uuid))
        self.profiles = {k: v for k, v in self.profiles.items() if v['uuid'] != uuid}


def test_names_follow_cyborg_and_placement_rules():
    assert naming.device_profile_name('pool-', 'a100-1g.10gb') == 'pool-a100-1g_10gb'
    assert naming.resource_class('a100-1g.10gb') == 'CUSTOM_POOL_A100_1G_10GB'
    assert naming.traits('quarter') == ['CUSTOM_POOLING', 'CUSTOM_POOL_PROFILE_QUARTER']
    assert naming.device_profile_groups('quarter') == [
        {'resources:CUSTOM_POOL_QUARTER': '1', 'trait:CUSTOM_POOLING': 'required'}]
    assert naming.arq_of(naming.vgpu_name('abc')) == 'abc'
    assert naming.arq_of('job-1') is None


def test_sync_creates_updates_deletes_only_its_own():
    cyborg = FakeCyborg([
        {'name': 'fpga-dp', 'uuid': 'u-fpga', 'groups': [{'resources:FPGA': '1'}]},
        {'name': 'pool-gone', 'uuid': 'u-gone', 'groups': []},
        {'name': 'pool-quarter', 'uuid': 'u-q', 'groups': [{'resources:CUSTOM_OLD': '1'}]},
    ])
    done = publisher.sync(cyborg, 'pool-', [{'name': 'quarter'}, {'name': 'half'}])
    assert done == {'created': ['pool-half'], 'updated': ['pool-quarter'],
                    'deleted': ['pool-gone']}
    assert set(cyborg.profiles) == {'fpga-dp', 'pool-quarter', 'pool-half'}
    cyborg.calls.clear()
    again = publisher.sync(cyborg, 'pool-', [{'name': 'quarter'}, {'name': 'half'}])
    assert again == {'created': [], 'updated': [], 'deleted': []} and cyborg.calls == []


def _conf(enabled):
    conf = cfg.ConfigOpts()
    opts.register_opts(conf)
    conf([])
    conf.set_override('enabled', enabled, group='cyborg')
    return conf


def test_published_field_only_when_cyborg_is_known():
    profiles = [{'name': 'quarter'}, {'name': 'half'}]
    off = publisher.PublishedCache(_conf(False), client=FakeCyborg())
    assert off.annotate([dict(p) for p in profiles]) == profiles
    cache = publisher.PublishedCache(_conf(True), client=FakeCyborg(
        [{'name': 'pool-quarter', 'uuid': 'u'}]))
    out = cache.annotate([dict(p) for p in profiles])
    assert [(p['name'], p['published']) for p in out] == [('quarter', True), ('half', False)]


def test_list_opts_has_the_groups_and_keystoneauth_options():
    groups = dict(opts.list_opts())
    assert set(groups) == {'cyborg', 'placement', 'nova'}
    names = {o.dest for o in groups['cyborg']}
    assert {'enabled', 'profile_prefix', 'auth_type', 'service_type', 'timeout'} <= names
    assert {'auth_type', 'service_type', 'endpoint_override'} <= {
        o.dest for o in groups['placement']}
    conf = _conf(True)
    assert conf.placement.service_type == 'placement'
    assert conf.nova.service_type == 'compute'
    assert {'auth_type', 'endpoint_override', 'timeout'} <= {o.dest for o in groups['nova']}
    assert conf.cyborg.sync_interval == 5
