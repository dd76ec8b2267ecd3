"""Policy checks that mirror the API's: the same rules, from the same code.

The dashboard asks ``pooling_api.policies`` (the rules the API enforces, with the operator's
overrides from ``POOLING_POLICY_FILE`` in local_settings, the API's policy file) whether to show
a panel, a button or a row action, so a reader sees no create button and a member sees no
admin panel. The API still decides: a request the dashboard let through is checked again there.
"""

import threading

from django.conf import settings
from oslo_config import cfg
from oslo_policy import policy as o_policy

from pooling_api import policies

_LOCK = threading.Lock()
_ENFORCER = None


def _enforcer() -> o_policy.Enforcer:
    global _ENFORCER
    with _LOCK:
        if _ENFORCER is None:
            conf = cfg.ConfigOpts()
            conf([], project='pooling', default_config_files=[])
            path = getattr(settings, 'POOLING_POLICY_FILE', None)
            enforcer = o_policy.Enforcer(conf, policy_file=path) if path else \
                o_policy.Enforcer(conf)
            enforcer.register_defaults(policies.list_rules())
            _ENFORCER = enforcer
        return _ENFORCER


def reset():
    global _ENFORCER
    with _LOCK:
        _ENFORCER = None


def credentials(user) -> dict:
    """The API's view of the signed-in user (what keystonemiddleware would pass on)."""
    return {'user_id': user.id, 'project_id': user.project_id,
            'roles': [r['name'] if isinstance(r, dict) else str(r)
                      for r in (getattr(user, 'roles', None) or [])],
            'system_scope': None}


def check(request, rule: str, target: dict | None = None) -> bool:
    """Whether the API's ``rule`` allows the signed-in user on ``target`` (own project)."""
    user = request.user
    target = target if target is not None else {'project_id': user.project_id}
    try:
        return bool(_enforcer().enforce(rule, target, credentials(user)))
    except o_policy.InvalidScope:
        return False
