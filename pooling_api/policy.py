"""The policy enforcer (one per process) and ``authorize``, the first line of a handler."""

import threading
import time

from oslo_policy import policy as o_policy

from pooling_api import method
from pooling_api import policies

_ENFORCER = None

# NOTE: oslo.policy re-checks its files and walks the rule tree on every call,
# about half a millisecond; a claim and its release ask three times. Answers
# are cached per (rule, target, caller's policy values) for CACHE_SECONDS, so
# an edited policy file still takes effect within that time.
CACHE_SECONDS = 1.0
_CACHE: dict = {}
_CACHE_LOCK = threading.Lock()
_CACHE_STARTED = [0.0]
_ALLOWED, _DENIED, _BAD_SCOPE = 'allowed', 'denied', 'bad-scope'


def init(conf) -> None:
    """Build the process's enforcer from ``conf`` (called once by the app)."""
    global _ENFORCER
    _ENFORCER = o_policy.Enforcer(conf)
    _ENFORCER.register_defaults(policies.list_rules())
    with _CACHE_LOCK:
        _CACHE.clear()


def get_enforcer():
    """The process's enforcer; also the oslo.policy.enforcer entry point for tools."""
    if _ENFORCER is None:
        from oslo_config import cfg

        conf = cfg.ConfigOpts()
        conf([], project='pooling')
        init(conf)
    return _ENFORCER


def _frozen(value):
    return tuple(value) if isinstance(value, list) else value


def _verdict(ctx, rule: str, target: dict) -> str:
    values = ctx.to_policy_values()
    key = (rule, tuple(sorted((k, _frozen(v)) for k, v in target.items())),
           tuple(sorted((k, _frozen(values[k])) for k in values)))
    now = time.monotonic()
    with _CACHE_LOCK:
        if now - _CACHE_STARTED[0] > CACHE_SECONDS or len(_CACHE) > 4096:
            _CACHE.clear()
            _CACHE_STARTED[0] = now
        verdict = _CACHE.get(key)
    if verdict is None:
        try:
            verdict = _ALLOWED if get_enforcer().authorize(rule, target, ctx,
                                                           do_raise=True) else _DENIED
        except o_policy.PolicyNotAuthorized:
            verdict = _DENIED
        except o_policy.InvalidScope:
            verdict = _BAD_SCOPE
        with _CACHE_LOCK:
            _CACHE[key] = verdict
    return verdict


def authorize(req, rule: str, target: dict | None = None) -> None:
    """Raise a 403 unless the caller may do ``rule`` on ``target``."""
    ctx = method.context(req)
    target = target if target is not None else {'project_id': ctx.project_id}
    verdict = _verdict(ctx, rule, target)
    if verdict == _DENIED:
        raise method.HTTPError(403, 'pooling.forbidden', 'Policy does not allow %s.' % rule)
    if verdict == _BAD_SCOPE:
        raise method.HTTPError(403, 'pooling.forbidden',
                               'Token scope is not valid for %s.' % rule)


def allowed(req, rule: str, target: dict | None = None) -> bool:
    ctx = method.context(req)
    target = target if target is not None else {'project_id': ctx.project_id}
    return _verdict(ctx, rule, target) == _ALLOWED
