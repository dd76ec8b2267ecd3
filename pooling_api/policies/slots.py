"""Policy rules for the slots view: only services (the Cyborg driver) and admins."""

from oslo_policy import policy

from pooling_api.policies import base

SHOW = 'pooling:slots:show'
SERVICE_OR_ADMIN = 'role:service or %s' % base.ADMIN

RULES = [
    policy.DocumentedRuleDefault(
        name=SHOW, check_str=SERVICE_OR_ADMIN, scope_types=base.SCOPE,
        description='What the pool can give one Nova compute host, per profile (the Cyborg '
                    "driver's discovery).",
        operations=[{'path': '/v1/slots', 'method': 'GET'}]),
]


def list_rules():
    return RULES
