"""Handler for /v1/capacity: what a tenant needs to choose a shape (microversion 1.1,
gated by the route table)."""

from pooling.objects import capacity as capacity_obj
from pooling_api import method
from pooling_api import policy
from pooling_api import validation
from pooling_api.policies import capacity as policies
from pooling_api.schemas import capacity as schemas


def show_capacity(req):
    """GET /v1/capacity?pool= → 200 {"capacity": {"models": [...], "profiles": [...]}}."""
    policy.authorize(req, policies.SHOW)
    query = validation.query(req, schemas.QUERY)
    conf = req.environ['pooling.services'].conf
    found = capacity_obj.capacity(method.context(req), conf.scheduler.policy, **query)
    return method.respond(req, 200, {'capacity': found})
