"""The policy enforcer (one per process) and ``authorize``, the first line of a handler."""

from oslo_policy import policy as o_policy

from pooling_api import method
from pooling_api import policies

_ENFORCER = None


def init(conf) -> None:
    """Build the process's enforcer from ``conf`` (called once by the app)."""
    global _ENFORCER
    _ENFORCER = o_policy.Enforcer(conf)
    _ENFORCER.register_defaults(policies.list_rules())


def get_enforcer():
    """The process's enforcer; also the oslo.policy.enforcer entry point for tools."""
    if _ENFORCER is None:
        from oslo_config import cfg

        conf = cfg.ConfigOpts()
        conf([], project='pooling')
        init(conf)
    return _ENFORCER


def authorize(req, rule: str, target: dict | None = None) -> None:
    """Raise a 403 unless the caller may do ``rule`` on ``target``."""
    ctx = method.context(req)
    target = target if target is not None else {'project_id': ctx.project_id}
    try:
        get_enforcer().authorize(rule, target, ctx, do_raise=True)
    except o_policy.PolicyNotAuthorized:
        raise method.HTTPError(403, 'pooling.forbidden',
                               'Policy does not allow %s.' % rule) from None
    except o_policy.InvalidScope:
        raise method.HTTPError(403, 'pooling.forbidden',
                               'Token scope is not valid for %s.' % rule) from None


def allowed(req, rule: str, target: dict | None = None) -> bool:
    ctx = method.context(req)
    target = target if target is not None else {'project_id': ctx.project_id}
    return get_enforcer().authorize(rule, target, ctx, do_raise=False)
