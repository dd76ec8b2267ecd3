"""Policy defaults: reader / member / admin and project scope, without a server."""

from oslo_config import cfg
from oslo_policy import policy as o_policy
import pytest

from pooling import context
from pooling_api import policies
from pooling_api.policies import pools
from pooling_api.policies import profiles
from pooling_api.policies import quotas
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
])
def test_rules(enforcer, rule, target, ctx, allowed):
    assert enforcer.authorize(rule, target, ctx, do_raise=False) is allowed


def test_every_rule_is_documented_and_project_scoped():
    for rule in policies.list_rules():
        assert rule.description and rule.operations
        assert rule.scope_types == ['project']
