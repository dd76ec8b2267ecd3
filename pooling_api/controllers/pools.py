"""Handlers for /v1/pools."""

from pooling.objects import pool as pool_obj
from pooling_api import method
from pooling_api import policy
from pooling_api import validation
from pooling_api.policies import pools as policies
from pooling_api.schemas import pools as schemas


def list_pools(req):
    """GET /v1/pools → 200 {"pools": [...]}."""
    policy.authorize(req, policies.LIST)
    validation.query(req, schemas.LIST_QUERY)
    return method.respond(req, 200, {'pools': pool_obj.list_pools(method.context(req))})


def show_pool(req, ident):
    """GET /v1/pools/{uuid or name} → 200 pool."""
    policy.authorize(req, policies.SHOW)
    return method.respond(req, 200, pool_obj.get_pool(method.context(req), ident))


def create_pool(req):
    """POST /v1/pools → 201 pool, Location header."""
    policy.authorize(req, policies.CREATE)
    body = validation.body(req, schemas.CREATE)
    pool = pool_obj.create_pool(method.context(req), body['name'], body.get('description', ''))
    return method.respond(req, 201, pool,
                          headers=[('Location', req.host_url + '/v1/pools/' + pool['uuid'])])


def delete_pool(req, ident):
    """DELETE /v1/pools/{uuid or name} → 204; 409 while hosts belong to it."""
    policy.authorize(req, policies.DELETE)
    pool_obj.delete_pool(method.context(req), ident)
    return method.respond(req, 204)
