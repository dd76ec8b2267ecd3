"""Build the WSGI application: pecan plus our middleware, composed in code.

Order, outermost first (a request goes down this list, a response up):
request id → HTTP proxy headers → /healthcheck (oslo.middleware) → body size
limit (oslo.middleware; refused before a byte is read) → request sanity (JSON
only, UTF-8 URL) → auth (keystonemiddleware or noauth; version documents skip
it) → JSON body (read once, bounded in time and depth) → context →
microversion → pecan → controllers.root.
"""

import dataclasses

from oslo_middleware import http_proxy_to_wsgi
from oslo_middleware import request_id
import pecan

from pooling import claims
from pooling import locate
from pooling import rpc
from pooling.conductor import rpcapi as conductor_rpcapi
from pooling_api import middleware
from pooling_api import policy
from pooling_api.controllers import root


@dataclasses.dataclass
class Services:
    """What handlers need besides the request: one per process."""

    conf: object
    claims: claims.ClaimService
    conductor: conductor_rpcapi.ConductorAPI


def build(conf, transport=None, services=None):
    """The pooling-api WSGI app for ``conf`` (DB already configured by the caller)."""
    policy.init(conf)
    if services is None:
        # NOTE: the claim asks consumers' agents where they run (a vSphere VM's ESXi host)
        # over the transport of the conductor casts.
        transport = transport or rpc.get_transport(conf)
        services = Services(conf=conf, claims=claims.ClaimService(
                                conf, locator=locate.ConsumerLocator(conf, transport)),
                            conductor=conductor_rpcapi.ConductorAPI(conf, transport))
    app = pecan.make_app(root.RootController(), guess_content_type_from_ext=False,
                         force_canonical=False, debug=False)
    app = middleware.Microversion(app)
    app = middleware.Context(app, services)
    app = middleware.JSONBody(app, conf.api.body_read_timeout)
    if conf.api.auth_strategy == 'noauth':
        authed = middleware.NoAuth(app)
    else:
        from keystonemiddleware import auth_token

        authed = middleware.AuthErrors(
            auth_token.AuthProtocol(app, {'oslo_config_config': conf}))
    app = middleware.PublicPaths(app, authed, root.PUBLIC)
    app = middleware.RequestSanity(app)
    app = middleware.BodyLimit(app, conf)
    app = middleware.Health(app, conf)
    app = http_proxy_to_wsgi.HTTPProxyToWSGI(app, conf)
    app = request_id.RequestId(app)
    return app
