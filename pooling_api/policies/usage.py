"""Policy rules for pool usage."""

from oslo_policy import policy

from pooling_api.policies import base

SHOW = 'pooling:usage:show'

RULES = [
    policy.DocumentedRuleDefault(name=SHOW, check_str=base.HARDWARE_READER,
                                 scope_types=base.HARDWARE_SCOPE,
                                 description='Show capacity, allocation and stranded capacity '
                                             'per pool and model.',
                                 operations=[{'path': '/v1/usage', 'method': 'GET'}]),
]


def list_rules():
    return RULES
