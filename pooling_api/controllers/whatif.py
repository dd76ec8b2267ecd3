"""Handler for /v1/usage/what-if: the what-if planner (pooling.planner) for admins."""

from pooling.planner import pool as pool_planner
from pooling.planner import whatif
from pooling.scheduler import framework
from pooling_api import method
from pooling_api import policy
from pooling_api import validation
from pooling_api.policies import whatif as policies
from pooling_api.schemas import whatif as schemas


def show_what_if(req):
    """GET /v1/usage/what-if?pool=&policy=&seeds=&scale=&cards= → 200 the report."""
    policy.authorize(req, policies.SHOW)
    query = validation.query(req, schemas.QUERY)
    policies_asked = (query['policy'].split(',') if query.get('policy')
                      else framework.known_policies())
    try:
        seeds = whatif.parse_seeds(query.get('seeds', '42-44'))
        if len(seeds) > schemas.MAX_SEEDS:
            raise whatif.PlanError('at most %d seeds, not %d' % (schemas.MAX_SEEDS, len(seeds)))
        report = pool_planner.plan(method.context(req), policies_asked, seeds,
                                   pool=query.get('pool'), cards=query.get('cards'),
                                   scale=int(query.get('scale', 1)))
    except ValueError as err:  # PlanError, and an unknown policy (the message lists the known)
        raise method.HTTPError(400, 'pooling.invalid', str(err)) from None
    return method.respond(req, 200, report)
