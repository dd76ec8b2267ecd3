"""Policy rules for pools."""

from oslo_policy import policy

from pooling_api.policies import base

LIST = 'pooling:pools:list'
SHOW = 'pooling:pools:show'
CREATE = 'pooling:pools:create'
DELETE = 'pooling:pools:delete'

RULES = [
    policy.DocumentedRuleDefault(name=LIST, check_str=base.READER, scope_types=base.SCOPE,
                                 description='List pools.',
                                 operations=[{'path': '/v1/pools', 'method': 'GET'}]),
    policy.DocumentedRuleDefault(name=SHOW, check_str=base.READER, scope_types=base.SCOPE,
                                 description='Show a pool.',
                                 operations=[{'path': '/v1/pools/{pool}', 'method': 'GET'}]),
    policy.DocumentedRuleDefault(name=CREATE, check_str=base.ADMIN, scope_types=base.SCOPE,
                                 description='Create a pool.',
                                 operations=[{'path': '/v1/pools', 'method': 'POST'}]),
    policy.DocumentedRuleDefault(name=DELETE, check_str=base.ADMIN, scope_types=base.SCOPE,
                                 description='Delete an empty pool.',
                                 operations=[{'path': '/v1/pools/{pool}', 'method': 'DELETE'}]),
]


def list_rules():
    return RULES
