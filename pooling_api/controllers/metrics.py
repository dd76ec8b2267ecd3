"""Handler for /metrics: the Prometheus text exposition (pooling.metrics)."""

import webob

from pooling import metrics
from pooling_api import method
from pooling_api import policy
from pooling_api.policies import metrics as policies


def show_metrics(req):
    """GET /metrics → 200 text/plain (Prometheus exposition format 0.0.4)."""
    policy.authorize(req, policies.SHOW)
    conf = req.environ['pooling.services'].conf
    body = metrics.render(method.context(req), conf)
    resp = webob.Response(status=200, body=body)
    resp.headers['Content-Type'] = metrics.CONTENT_TYPE
    return resp
