"""Policy rules for /v1/capacity: every reader (what a tenant needs to choose a shape)."""

from oslo_policy import policy

from pooling_api.policies import base

SHOW = 'pooling:capacity:show'

RULES = [
    policy.DocumentedRuleDefault(
        name=SHOW, check_str=base.READER, scope_types=base.SCOPE,
        description='Free capacity per pool and model, and how many vGPUs of each profile '
                    'the pool could place now; names no host, device or project.',
        operations=[{'path': '/v1/capacity', 'method': 'GET'}]),
]


def list_rules():
    return RULES
