"""Check strings shared by every resource's rules.

Roles: reader < member < admin (Keystone implies them; we spell them out so
noauth and tokens without implied roles behave the same).
"""

ADMIN = 'role:admin'
READER = 'role:reader or role:member or role:admin'
MEMBER = 'role:member or role:admin'
PROJECT_READER = '(role:reader or role:member) and project_id:%(project_id)s'
PROJECT_MEMBER = 'role:member and project_id:%(project_id)s'
ADMIN_OR_PROJECT_READER = 'role:admin or (%s)' % PROJECT_READER
ADMIN_OR_PROJECT_MEMBER = 'role:admin or (%s)' % PROJECT_MEMBER
SCOPE = ['project']
# The hardware and pool-wide view (hosts, devices, usage): an admin, or a
# system-scoped reader (Keystone's "system reader" persona); a project's
# reader or member no longer sees other projects' hosts and allocations.
HARDWARE_READER = 'role:admin or (role:reader and system_scope:all)'
HARDWARE_SCOPE = ['system', 'project']
