"""Configuration options of the pooling service, one module per option group.

NOTE: following Placement's "don't use global config" rule, nothing here
registers options on oslo.config's global CONF; callers build a ConfigOpts and
pass it to register_opts().
"""

from oslo_config import cfg

from pooling.conf import agent
from pooling.conf import api
from pooling.conf import baremetal
from pooling.conf import conductor
from pooling.conf import gateway
from pooling.conf import libvirt
from pooling.conf import metrics
from pooling.conf import platforms
from pooling.conf import remoting
from pooling.conf import scheduler
from pooling.conf import vmware

_MODULES = (api, agent, baremetal, conductor, gateway, libvirt, metrics, platforms, remoting,
            scheduler, vmware)


def register_opts(conf: cfg.ConfigOpts) -> None:
    """Register every pooling option (and oslo.db's) on ``conf``."""
    from oslo_db import options as db_options
    from oslo_messaging import opts as messaging_opts

    from pooling.cyborg import opts as cyborg_opts

    for module in _MODULES:
        module.register_opts(conf)
    cyborg_opts.register_opts(conf)
    for group, opts in messaging_opts.list_opts():
        conf.register_opts(opts, group=group)
    # NOTE: oslo.messaging's public list_opts leaves out [oslo_messaging_metrics],
    # which it registers on the global CONF only yet reads from the ConfigOpts it
    # is handed; the library offers no public way to these (its own ConfFixture
    # imports the same module), so this one import stays until it does.
    from oslo_messaging._metrics import client as messaging_metrics

    conf.register_opts(messaging_metrics.oslo_messaging_metrics,
                       group='oslo_messaging_metrics')
    from oslo_middleware import opts as middleware_opts

    for group, opts in (middleware_opts.list_opts_sizelimit()
                        + middleware_opts.list_opts_healthcheck()
                        + middleware_opts.list_opts_http_proxy_to_wsgi()):
        conf.register_opts(opts, group=group)
    from keystonemiddleware import auth_token

    for group, opts in auth_token.list_opts():
        conf.register_opts(opts, group=group)
    # NOTE: the conductor and API serve from many threads; oslo.db's default
    # pool of 5 made every extra thread open (and close) its own connection.
    db_options.set_defaults(conf, connection='sqlite:///pooling.sqlite', max_pool_size=20)


def new_conf(args=None, default_config_files=None) -> cfg.ConfigOpts:
    """A fresh ConfigOpts with every option registered and args parsed."""
    conf = cfg.ConfigOpts()
    register_opts(conf)
    from oslo_log import log

    log.register_options(conf)
    conf(args if args is not None else [], project='pooling',
         default_config_files=default_config_files)
    return conf
