"""Handler for /v1/usage."""

from pooling.objects import platform_usage
from pooling.objects import pool as pool_obj
from pooling.objects import usage as usage_obj
from pooling_api import method
from pooling_api import microversion
from pooling_api import policy
from pooling_api import validation
from pooling_api.policies import usage as policies
from pooling_api.schemas import common
from pooling_api.schemas import usage as schemas


def show_usage(req):
    """GET /v1/usage?pool= → 200 {"usage": [per pool and model]}; from 1.2 with by_platform;
    404 for a pool that does not exist."""
    policy.authorize(req, policies.SHOW)
    query = validation.query(req, schemas.QUERY)
    ctx = method.context(req)
    if query.get('pool'):
        # NOTE: a misspelt pool answered 200 with nothing, read as "the pool is empty".
        pool_obj.get_pool(ctx, query['pool'])
    entries = usage_obj.usage(ctx, **query)
    if microversion.at_least(req, schemas.ENTRY['properties']['by_platform'][common.SINCE]):
        split = platform_usage.by_platform(ctx, **query)
        for entry in entries:
            entry['by_platform'] = split.get((entry['pool'], entry['model']), [])
    return method.respond(req, 200, {'usage': entries})
