"""Policy defaults: reader / member / admin and project scope, without a server."""

import os

from oslo_config import cfg
from oslo_policy import policy as o_policy
import pytest

from pooling import context
from pooling_api import policies
from pooling_api.policies import devices
from pooling_api.policies import hosts
from pooling_api.policies import pools
from pooling_api.policies import profiles
from pooling_api.policies import quotas
from pooling_api.policies import usage
from pooling_api.policies import vgpus


@pytest.fixture(scope='module')
def enforcer():
    conf = cfg.ConfigOpts()
    conf([], project='pooling')
    enforcer = o_policy.Enforcer(conf)
    enforcer.register_defaults(policies.list_rules())
    return enforcer


def _ctx(project, *roles):
    return context.RequestContext(project_id=project, user_id='u', roles=list(roles))


@pytest.mark.parametrize('rule,target,ctx,allowed', [
    (vgpus.CREATE, {'project_id': 'p1'}, _ctx('p1', 'member', 'reader'), True),
    (vgpus.CREATE, {'project_id': 'p1'}, _ctx('p1', 'reader'), False),
    (vgpus.SHOW, {'project_id': 'p1'}, _ctx('p1', 'reader'), True),
    (vgpus.SHOW, {'project_id': 'p1'}, _ctx('p2', 'member', 'reader'), False),
    (vgpus.DELETE, {'project_id': 'p1'}, _ctx('p2', 'member'), False),
    (vgpus.DELETE, {'project_id': 'p1'}, _ctx('p2', 'admin'), True),
    (vgpus.LIST_ALL, {'project_id': 'p1'}, _ctx('p1', 'member'), False),
    (pools.LIST, {'project_id': 'p1'}, _ctx('p1', 'reader'), True),
    (pools.CREATE, {'project_id': 'p1'}, _ctx('p1', 'member'), False),
    (pools.CREATE, {'project_id': 'p1'}, _ctx('p1', 'admin'), True),
    (profiles.CREATE, {'project_id': 'p1'}, _ctx('p1', 'member'), False),
    (profiles.LIST, {'project_id': 'p1'}, _ctx('p1', 'reader'), True),
    (quotas.SHOW, {'project_id': 'p1'}, _ctx('p1', 'reader'), True),
    (quotas.SHOW, {'project_id': 'p1'}, _ctx('p2', 'reader'), False),
    (quotas.UPDATE, {'project_id': 'p1'}, _ctx('p1', 'member'), False),
    (hosts.LIST, {'project_id': 'p1'}, _ctx('p1', 'member', 'reader'), False),
    (devices.SHOW, {'project_id': 'p1'}, _ctx('p1', 'reader'), False),
    (usage.SHOW, {'project_id': 'p1'}, _ctx('p1', 'member', 'reader'), False),
    (hosts.LIST, {'project_id': 'p1'}, _ctx('p1', 'admin'), True),
])
def test_rules(enforcer, rule, target, ctx, allowed):
    assert enforcer.authorize(rule, target, ctx, do_raise=False) is allowed


def test_every_rule_is_documented_and_project_scoped():
    from pooling_api.policies import base

    hardware = {r.name for m in (hosts, devices, usage) for r in m.list_rules()}
    for rule in policies.list_rules():
        assert rule.description and rule.operations
        if rule.name in hardware:
            assert rule.scope_types == ['system', 'project']
            assert rule.check_str == base.HARDWARE_READER
        else:
            assert rule.scope_types == ['project']


class _Req:
    """Just what pooling_api.policy reads of a request."""

    def __init__(self, ctx):
        self.environ = {'pooling.context': ctx}


@pytest.fixture
def api_policy(tmp_path):
    from pooling_api import policy

    policy_file = tmp_path / 'policy.yaml'
    policy_file.write_text('{}\n')
    # NOTE: through a config file, not oslo_policy.opts.set_defaults: that changes the
    # default of the option objects every ConfigOpts shares, so later tests would read
    # this policy file too.
    config_file = tmp_path / 'pooling.conf'
    config_file.write_text('[oslo_policy]\npolicy_file = %s\n' % policy_file)
    conf = cfg.ConfigOpts()
    conf(['--config-file', str(config_file)], project='pooling')
    policy.init(conf)
    yield policy, policy_file
    clean = cfg.ConfigOpts()
    clean([], project='pooling')
    policy.init(clean)


def test_cached_answers_follow_the_caller(api_policy):
    policy, _ = api_policy
    member, reader = _ctx('p1', 'member', 'reader'), _ctx('p1', 'reader')
    for _ in range(3):  # the second and third answers come from the cache
        assert policy.allowed(_Req(member), vgpus.CREATE)
        assert not policy.allowed(_Req(reader), vgpus.CREATE)
        assert policy.allowed(_Req(reader), vgpus.SHOW, {'project_id': 'p1'})
        assert not policy.allowed(_Req(reader), vgpus.SHOW, {'project_id': 'p2'})


def test_an_edited_policy_file_takes_effect_after_the_cache_time(api_policy, monkeypatch):
    policy, policy_file = api_policy
    reader = _Req(_ctx('p1', 'reader'))
    assert not policy.allowed(reader, vgpus.CREATE)
    policy_file.write_text('"%s": "role:reader"\n' % vgpus.CREATE)
    stat = policy_file.stat()  # oslo.policy reloads on a changed mtime
    os.utime(policy_file, (stat.st_atime, stat.st_mtime + 10))
    assert not policy.allowed(reader, vgpus.CREATE)  # still the cached answer
    clock = [policy.time.monotonic() + policy.CACHE_SECONDS + 0.1]
    monkeypatch.setattr(policy.time, 'monotonic', lambda: clock[0])
    assert policy.allowed(reader, vgpus.CREATE)
