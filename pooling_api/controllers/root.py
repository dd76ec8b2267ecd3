"""The whole API surface on one screen, and the pecan hook that dispatches it.

ROUTES maps each URL template to its HTTP methods and handlers (Placement's
ROUTE_DECLARATIONS idea). A path that matches with another method gets a 405
with an Allow header; no match gets a 404. Every error leaves as API-SIG JSON.
"""

import re

from oslo_db import exception as db_exc
from oslo_log import log as logging
import pecan

from pooling import exception
from pooling_api import method
from pooling_api import microversion
from pooling_api.controllers import capacity
from pooling_api.controllers import devices
from pooling_api.controllers import hosts
from pooling_api.controllers import leases
from pooling_api.controllers import metrics
from pooling_api.controllers import pools
from pooling_api.controllers import profiles
from pooling_api.controllers import quotas
from pooling_api.controllers import slots
from pooling_api.controllers import usage
from pooling_api.controllers import vendordata
from pooling_api.controllers import versions
from pooling_api.controllers import vgpus
from pooling_api.controllers import whatif

LOG = logging.getLogger(__name__)

ROUTES = {
    '/': {'GET': versions.root},
    '/v1': {'GET': versions.v1},
    '/v1/pools': {'GET': pools.list_pools, 'POST': pools.create_pool},
    '/v1/pools/{ident}': {'GET': pools.show_pool, 'DELETE': pools.delete_pool},
    '/v1/hosts': {'GET': hosts.list_hosts},
    '/v1/hosts/{ident}': {'GET': hosts.show_host},
    '/v1/devices': {'GET': devices.list_devices},
    '/v1/devices/{ident}': {'GET': devices.show_device},
    '/v1/profiles': {'GET': profiles.list_profiles, 'POST': profiles.create_profile},
    '/v1/profiles/{ident}': {'GET': profiles.show_profile, 'DELETE': profiles.delete_profile},
    '/v1/vgpus': {'GET': vgpus.list_vgpus, 'POST': vgpus.create_vgpu},
    '/v1/vgpus/{ident}': {'GET': vgpus.show_vgpu, 'DELETE': vgpus.delete_vgpu},
    '/v1/vgpus/{ident}/lease': {'GET': leases.show_lease, 'POST': leases.issue_lease,
                                'PUT': leases.renew_lease, 'DELETE': leases.revoke_lease},
    '/v1/usage': {'GET': usage.show_usage},
    '/v1/usage/what-if': {'GET': whatif.show_what_if},
    '/v1/capacity': {'GET': capacity.show_capacity},
    '/v1/slots': {'GET': slots.list_slots},
    '/v1/vendordata': {'POST': vendordata.vendordata},
    '/v1/quotas/{project_id}': {'GET': quotas.show_quota, 'PUT': quotas.update_quota,
                                'DELETE': quotas.delete_quota},
    '/metrics': {'GET': metrics.show_metrics},
}

# The microversion that added a route (absent: 1.0). dispatch answers 404 below it,
# before policy, and the OpenAPI document and the API reference read it from here.
MIN_VERSIONS = {
    ('/v1/capacity', 'GET'): '1.1',
    ('/v1/vgpus/{ident}/lease', 'GET'): '1.3',
    ('/v1/vgpus/{ident}/lease', 'POST'): '1.3',
    ('/v1/vgpus/{ident}/lease', 'PUT'): '1.3',
    ('/v1/vgpus/{ident}/lease', 'DELETE'): '1.3',
}

# NOTE: how long a client is told to wait when the database is unreachable: a
# MariaDB or PostgreSQL restart or fail-over takes seconds, and oslo.db
# reconnects on the next checkout.
RETRY_AFTER = '5'

# Paths that answer without authentication (version discovery).
PUBLIC = ('/', '/v1')


_COMPILED = [(re.compile('^' + re.sub(r'\{(\w+)\}', r'(?P<\1>[^/]+)', path) + '$'), path)
             for path in ROUTES]


def match(path: str):
    """(template, params) for ``path``, or (None, None)."""
    path = path.rstrip('/') or '/'
    for regex, template in _COMPILED:
        found = regex.match(path)
        if found:
            return template, found.groupdict()
    return None, None


def dispatch(req):
    """Run the handler for ``req`` and turn every failure into a JSON error."""
    try:
        template, params = match(req.path_info)
        if template is None:
            raise method.HTTPError(404, 'pooling.not_found',
                                   'The resource %s could not be found.' % req.path_info)
        handlers = ROUTES[template]
        handler = handlers.get(req.method)
        if handler is None:
            allow = ', '.join(sorted(handlers))
            raise method.HTTPError(405, 'pooling.method_not_allowed',
                                   'Method %s is not allowed on %s; allowed: %s.'
                                   % (req.method, req.path_info, allow),
                                   headers=[('Allow', allow)])
        since = MIN_VERSIONS.get((template, req.method))
        if since is not None and not microversion.at_least(req, since):
            raise method.HTTPError(404, 'pooling.not_found',
                                   'The resource %s could not be found (it needs microversion '
                                   '%s or later).' % (req.path_info, since))
        return handler(req, **params)
    except method.HTTPError as err:
        return method.error(req, err.status, err.code, err.detail, err.headers)
    except exception.PoolingException as err:
        return method.error(req, err.code, err.error_code, str(err),
                            getattr(err, 'headers', None))
    except db_exc.DBConnectionError as err:
        # The database is down or unreachable: the request may be retried as is.
        LOG.warning('Database unreachable handling %s %s: %s', req.method, req.path_info, err)
        return method.error(req, 503, 'pooling.service_unavailable',
                            'The database is unreachable; retry later.',
                            headers=[('Retry-After', RETRY_AFTER)])
    except Exception:
        LOG.exception('Unexpected error handling %s %s', req.method, req.path_info)
        return method.error(req, 500, 'pooling.internal',
                            'The server failed to handle the request; see its log.')


class RootController:
    """pecan's root: every path goes through ``dispatch`` above."""

    # NOTE: exposed for JSON as well as pecan's default text/html, else pecan answers
    # 406 to every client sending "Accept: application/json" (Nova's vendordata does).
    @pecan.expose(content_type='application/json')
    @pecan.expose()
    def _route(self, args, request):
        return self.handle, []

    @pecan.expose(content_type='application/json')
    @pecan.expose()
    def handle(self, *args, **kwargs):
        return dispatch(pecan.request)
