"""Policy rule for the Prometheus endpoint on the API port."""

from oslo_policy import policy

from pooling_api.policies import base

SHOW = 'pooling:metrics:show'

RULES = [
    policy.DocumentedRuleDefault(
        name=SHOW, check_str=base.ADMIN, scope_types=base.SCOPE,
        description='Read the Prometheus metrics of the whole pool (every project\'s vGPU '
                    'counts, every host and card). Prometheus itself scrapes pooling-exporter, '
                    'which needs no token.',
        operations=[{'path': '/metrics', 'method': 'GET'}]),
]


def list_rules():
    return RULES
