"""Policy rules for per-project quotas."""

from oslo_policy import policy

from pooling_api.policies import base

SHOW = 'pooling:quotas:show'
UPDATE = 'pooling:quotas:update'
DELETE = 'pooling:quotas:delete'

RULES = [
    policy.DocumentedRuleDefault(name=SHOW, check_str=base.ADMIN_OR_PROJECT_READER,
                                 scope_types=base.SCOPE, description="Show a project's quota.",
                                 operations=[{'path': '/v1/quotas/{project_id}',
                                              'method': 'GET'}]),
    policy.DocumentedRuleDefault(name=UPDATE, check_str=base.ADMIN, scope_types=base.SCOPE,
                                 description="Set a project's quota.",
                                 operations=[{'path': '/v1/quotas/{project_id}',
                                              'method': 'PUT'}]),
    policy.DocumentedRuleDefault(name=DELETE, check_str=base.ADMIN, scope_types=base.SCOPE,
                                 description="Reset a project's quota to unlimited.",
                                 operations=[{'path': '/v1/quotas/{project_id}',
                                              'method': 'DELETE'}]),
]


def list_rules():
    return RULES
