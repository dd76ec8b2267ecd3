"""The driver's only link to the pool: GET /v1/slots over keystoneauth1.

Options live in the ``[pooling]`` group of the cyborg-agent's own config file
(the agent parses it before loading drivers; options registered afterwards
still read it): keystoneauth password options for a service user, and the
usual adapter options (``service_type = accelerator-pool`` from the catalog, or
``endpoint_override``).
"""

from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

GROUP = 'pooling'
MICROVERSION = 'accelerator-pool 1.0'
OPTS = [
    cfg.StrOpt('pool_host',
               help="This compute host's name in the pool (default: [DEFAULT] host, which "
                    "is also Nova's node name in a standard deployment)."),
]


def register_opts(conf):
    """Idempotent: the agent may build the driver more than once."""
    if GROUP in conf and 'pool_host' in conf[GROUP]:
        return
    conf.register_opts(OPTS, group=GROUP)
    ks_loading.register_session_conf_options(conf, GROUP)
    ks_loading.register_auth_conf_options(conf, GROUP)
    ks_loading.register_adapter_conf_options(conf, GROUP, include_deprecated=False)
    conf.set_default('service_type', 'accelerator-pool', group=GROUP)
    conf.set_default('valid_interfaces', ['internal', 'public'], group=GROUP)


class PoolError(Exception):
    """The pool could not be asked or did not answer 200."""


class PoolClient:
    def __init__(self, conf, adapter=None):
        self.conf = conf
        self._adapter = adapter

    @property
    def adapter(self):
        if self._adapter is None:
            auth = ks_loading.load_auth_from_conf_options(self.conf, GROUP)
            sess = ks_loading.load_session_from_conf_options(self.conf, GROUP, auth=auth)
            self._adapter = ks_loading.load_adapter_from_conf_options(
                self.conf, GROUP, session=sess, auth=auth)
        return self._adapter

    def slots(self, host: str) -> list[dict]:
        try:
            resp = self.adapter.get('/v1/slots', params={'host': host}, raise_exc=False,
                                    headers={'OpenStack-API-Version': MICROVERSION})
        except Exception as err:  # connection, catalog and auth failures alike
            raise PoolError('asking the pool for slots of %s: %s' % (host, err)) from err
        if resp.status_code != 200:
            raise PoolError('GET /v1/slots?host=%s -> %s %s'
                            % (host, resp.status_code, resp.text[:300]))
        return resp.json()['slots']
