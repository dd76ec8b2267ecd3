"""Version documents at / and /v1."""

from pooling_api import method
from pooling_api import microversion


def _v1(req) -> dict:
    return {'id': 'v1.0', 'status': 'CURRENT', 'min_version': microversion.VERSIONS[0],
            'max_version': microversion.max_version_string(),
            'links': [{'rel': 'self', 'href': req.host_url + '/v1'}]}


def root(req):
    """GET / → 200 {"versions": [...]}; no auth needed."""
    return method.respond(req, 200, {'versions': [_v1(req)]})


def v1(req):
    """GET /v1 → 200 {"version": {...}, "resources": [...]}."""
    from pooling_api.controllers import root as routes

    resources = sorted({path.split('/')[2] for path in routes.ROUTES if path.count('/') >= 2})
    return method.respond(req, 200, {'version': _v1(req), 'resources': resources})
