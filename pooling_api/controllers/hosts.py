"""Handlers for /v1/hosts (read-only: agents report hosts)."""

from pooling.objects import host as host_obj
from pooling_api import method
from pooling_api import policy
from pooling_api import validation
from pooling_api.policies import hosts as policies
from pooling_api.schemas import hosts as schemas


def list_hosts(req):
    """GET /v1/hosts?pool=&fabric=&state= → 200 {"hosts": [...]}."""
    policy.authorize(req, policies.LIST)
    query = validation.query(req, schemas.LIST_QUERY)
    return method.respond(req, 200, {'hosts': host_obj.list_hosts(method.context(req), **query)})


def show_host(req, ident):
    """GET /v1/hosts/{uuid or name} → 200 host."""
    policy.authorize(req, policies.SHOW)
    return method.respond(req, 200, host_obj.get_host(method.context(req), ident))
