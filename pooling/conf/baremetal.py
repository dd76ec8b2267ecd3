"""[baremetal] options: the baremetal platform driver (env and lease files for jobs)."""

from oslo_config import cfg

GROUP = 'baremetal'

OPTS = [
    cfg.StrOpt('state_dir', default='/var/lib/pooling/baremetal',
               help='Where <job>/<vGPU>.env and .json are written (0700; files 0600).'),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(OPTS, group=GROUP)


def driver_options(conf: cfg.ConfigOpts) -> dict:
    """The baremetal driver's options (drivers never read config)."""
    register_opts(conf)
    return {'state_dir': conf[GROUP].state_dir}


def list_opts():
    return {GROUP: OPTS}
