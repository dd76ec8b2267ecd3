"""Policy rules for hosts (reported by agents; read-only in the API)."""

from oslo_policy import policy

from pooling_api.policies import base

LIST = 'pooling:hosts:list'
SHOW = 'pooling:hosts:show'

RULES = [
    policy.DocumentedRuleDefault(name=LIST, check_str=base.HARDWARE_READER,
                                 scope_types=base.HARDWARE_SCOPE,
                                 description='List hosts.',
                                 operations=[{'path': '/v1/hosts', 'method': 'GET'}]),
    policy.DocumentedRuleDefault(name=SHOW, check_str=base.HARDWARE_READER,
                                 scope_types=base.HARDWARE_SCOPE,
                                 description='Show a host.',
                                 operations=[{'path': '/v1/hosts/{host}', 'method': 'GET'}]),
]


def list_rules():
    return RULES
