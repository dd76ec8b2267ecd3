"""Policy rules for remote vGPU leases: the credential goes to the owner, admins and Nova."""

from oslo_policy import policy

from pooling_api.policies import base

SHOW = 'pooling:vgpus:lease:show'
ISSUE = 'pooling:vgpus:lease:issue'
REVOKE = 'pooling:vgpus:lease:revoke'
ANY_PROJECT = 'pooling:vgpus:lease:any_project'

# NOTE: a credential is as good as the vGPU itself: members of the owning
# project, admins, and Nova's service user (for its instances) only; readers
# may see the lease's id and expiry, never a credential.
_OWNER = 'role:service or %s' % base.ADMIN_OR_PROJECT_MEMBER
_PATH = '/v1/vgpus/{uuid}/lease'

RULES = [
    policy.DocumentedRuleDefault(
        name=SHOW, check_str='role:service or %s' % base.ADMIN_OR_PROJECT_READER,
        scope_types=base.SCOPE, description="Show a remote vGPU's lease (no credential).",
        operations=[{'path': _PATH, 'method': 'GET'}]),
    policy.DocumentedRuleDefault(
        name=ISSUE, check_str=_OWNER, scope_types=base.SCOPE,
        description='Issue (POST) or renew (PUT) the credential of a remote vGPU.',
        operations=[{'path': _PATH, 'method': 'POST'}, {'path': _PATH, 'method': 'PUT'}]),
    policy.DocumentedRuleDefault(
        name=REVOKE, check_str=_OWNER, scope_types=base.SCOPE,
        description="Revoke a remote vGPU's credential (its connections close).",
        operations=[{'path': _PATH, 'method': 'DELETE'}]),
    policy.DocumentedRuleDefault(
        name=ANY_PROJECT, check_str='role:service or %s' % base.ADMIN, scope_types=base.SCOPE,
        description="Reach the lease of another project's vGPU (Nova's service user for "
                    'its instances, admins).',
        operations=[{'path': _PATH, 'method': 'POST'}]),
]


def list_rules():
    return RULES
