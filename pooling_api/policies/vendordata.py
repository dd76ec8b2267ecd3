"""Policy rules for Nova's dynamic vendordata: only Nova's service user (or an admin)."""

from oslo_policy import policy

from pooling_api.policies import base

SHOW = 'pooling:vendordata:show'

RULES = [
    policy.DocumentedRuleDefault(
        name=SHOW, check_str='role:service or %s' % base.ADMIN, scope_types=base.SCOPE,
        description="An instance's vGPUs and attachments, for Nova's DynamicJSON vendordata.",
        operations=[{'path': '/v1/vendordata', 'method': 'POST'}]),
]


def list_rules():
    return RULES
