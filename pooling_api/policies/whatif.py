"""Policy rule for the what-if report."""

from oslo_policy import policy

from pooling_api.policies import base

SHOW = 'pooling:usage:what_if'

RULES = [
    policy.DocumentedRuleDefault(
        name=SHOW, check_str=base.ADMIN, scope_types=base.SCOPE,
        description="Replay the pool's recorded demand (every project's vGPUs) with other "
                    'scheduling policies or on other hardware.',
        operations=[{'path': '/v1/usage/what-if', 'method': 'GET'}]),
]


def list_rules():
    return RULES
