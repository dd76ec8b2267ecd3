"""Handler for /v1/usage."""

from pooling.objects import usage as usage_obj
from pooling_api import method
from pooling_api import policy
from pooling_api import validation
from pooling_api.policies import usage as policies
from pooling_api.schemas import usage as schemas


def show_usage(req):
    """GET /v1/usage?pool= → 200 {"usage": [per pool and model]}."""
    policy.authorize(req, policies.SHOW)
    query = validation.query(req, schemas.QUERY)
    return method.respond(req, 200, {'usage': usage_obj.usage(method.context(req), **query)})
