"""Policy rules for vGPUs: a tenant sees and touches only its project's."""

from oslo_policy import policy

from pooling_api.policies import base

LIST = 'pooling:vgpus:list'
LIST_ALL = 'pooling:vgpus:list_all_projects'
SHOW = 'pooling:vgpus:show'
CREATE = 'pooling:vgpus:create'
DELETE = 'pooling:vgpus:delete'

RULES = [
    policy.DocumentedRuleDefault(name=LIST, check_str=base.ADMIN_OR_PROJECT_READER,
                                 scope_types=base.SCOPE,
                                 description="List the project's vGPUs.",
                                 operations=[{'path': '/v1/vgpus', 'method': 'GET'}]),
    policy.DocumentedRuleDefault(name=LIST_ALL, check_str=base.ADMIN, scope_types=base.SCOPE,
                                 description="List every project's vGPUs (all_projects=true "
                                             'or project_id=…).',
                                 operations=[{'path': '/v1/vgpus', 'method': 'GET'}]),
    policy.DocumentedRuleDefault(name=SHOW, check_str=base.ADMIN_OR_PROJECT_READER,
                                 scope_types=base.SCOPE, description='Show a vGPU.',
                                 operations=[{'path': '/v1/vgpus/{uuid}', 'method': 'GET'}]),
    policy.DocumentedRuleDefault(name=CREATE, check_str=base.ADMIN_OR_PROJECT_MEMBER,
                                 scope_types=base.SCOPE, description='Claim a vGPU.',
                                 operations=[{'path': '/v1/vgpus', 'method': 'POST'}]),
    policy.DocumentedRuleDefault(name=DELETE, check_str=base.ADMIN_OR_PROJECT_MEMBER,
                                 scope_types=base.SCOPE, description='Release a vGPU.',
                                 operations=[{'path': '/v1/vgpus/{uuid}', 'method': 'DELETE'}]),
]


def list_rules():
    return RULES
