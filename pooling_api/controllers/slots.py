"""GET /v1/slots?host=: what the pool can give one Nova compute host, per profile.

The Cyborg driver inside cyborg-agent asks this at every discovery and reports
one deployable per profile from the answer (see pooling.cyborg.slots).
"""

from pooling.cyborg import slots
from pooling_api import method
from pooling_api import policy
from pooling_api import validation
from pooling_api.policies import slots as policies
from pooling_api.schemas import slots as schemas


def list_slots(req):
    """GET /v1/slots?host=NAME → 200 {"host", "slots": [...]}."""
    policy.authorize(req, policies.SHOW)
    query = validation.query(req, schemas.LIST_QUERY)
    conf = req.environ['pooling.services'].conf
    found = slots.host_slots(method.context(req), conf, query['host'])
    return method.respond(req, 200, {'host': query['host'], 'slots': found})
