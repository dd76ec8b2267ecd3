"""Policy rules for vGPU profiles (any reader sees them; admin manages them)."""

from oslo_policy import policy

from pooling_api.policies import base

LIST = 'pooling:profiles:list'
SHOW = 'pooling:profiles:show'
CREATE = 'pooling:profiles:create'
DELETE = 'pooling:profiles:delete'

RULES = [
    policy.DocumentedRuleDefault(name=LIST, check_str=base.READER, scope_types=base.SCOPE,
                                 description='List profiles.',
                                 operations=[{'path': '/v1/profiles', 'method': 'GET'}]),
    policy.DocumentedRuleDefault(name=SHOW, check_str=base.READER, scope_types=base.SCOPE,
                                 description='Show a profile.',
                                 operations=[{'path': '/v1/profiles/{profile}',
                                              'method': 'GET'}]),
    policy.DocumentedRuleDefault(name=CREATE, check_str=base.ADMIN, scope_types=base.SCOPE,
                                 description='Create a profile.',
                                 operations=[{'path': '/v1/profiles', 'method': 'POST'}]),
    policy.DocumentedRuleDefault(name=DELETE, check_str=base.ADMIN, scope_types=base.SCOPE,
                                 description='Delete a profile no vGPU uses.',
                                 operations=[{'path': '/v1/profiles/{profile}',
                                              'method': 'DELETE'}]),
]


def list_rules():
    return RULES
