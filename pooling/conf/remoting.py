"""[remoting_lupine] and [remoting_sim] options: settings of the pooling.remoting plugins.

The agent hands a plugin the values of its ``[remoting_<name>]`` group (unset ones left out), so
option names are the plugins' option names (``pooling_drivers.remoting.lupine`` and ``.sim``).
"""

from oslo_config import cfg

LUPINE = 'remoting_lupine'
SIM = 'remoting_sim'

_COMMON = [
    cfg.StrOpt('run_dir',
               help='Folder of the backends\' unix sockets and pid files (mode 0700). Default: '
                    '<tmp>/pooling-remoting.'),
    cfg.IntOpt('max_restarts', default=5, min=0,
               help='Failures in a row after which a backend is given up (degraded) and its '
                    'vGPU re-placed.'),
    cfg.FloatOpt('backoff_initial', default=0.5, min=0.01,
                 help='Seconds before the first restart; doubled each failure, at most 30.'),
]

LUPINE_OPTS = _COMMON + [
    cfg.StrOpt('server_path', default='/opt/lupine/bin/lupine_driver_server',
               help='LUPINE\'s server program (operators install LUPINE from its releases).'),
    cfg.StrOpt('expected_version',
               help='The LUPINE version this deployment pins; another version is refused and '
                    'reported by pooling-manage drivers probe and pooling-status upgrade check.'),
    cfg.StrOpt('version_file',
               help='File holding the installed version (default: VERSION in the install '
                    'prefix, beside bin/).'),
    cfg.StrOpt('confinement', default='netns', choices=['netns', 'none'],
               help='netns: each server in a network namespace of its own, reached through a '
                    'relay (needs root, unshare and ip). none: on the host, on a port of '
                    'port_range, which must then be firewalled (LUPINE binds every address '
                    'and has no authentication).'),
    cfg.PortOpt('port', default=14833, help='LUPINE_PORT inside the namespace.'),
    cfg.StrOpt('port_range', default='15000:15999',
               help='low:high ports for confinement = none.'),
    cfg.FloatOpt('start_timeout', default=20.0, min=1,
                 help='Seconds a server has to print that it listens.'),
    cfg.DictOpt('env', default={},
                help='Extra environment of the server, e.g. LUPINE_LOG_LEVEL:info.'),
    cfg.StrOpt('client_lib_dir', default='/opt/lupine/lib',
               help='Consumer side: folder of LUPINE\'s client shim (pooling run).'),
]

SIM_OPTS = _COMMON + [
    cfg.StrOpt('listen', default='unix', choices=['unix', 'tcp'],
               help='unix: a 0600 socket per lease; tcp: a loopback port.'),
    cfg.FloatOpt('start_timeout', default=15.0, min=1,
                 help='Seconds a sim server has to start.'),
]


def register_opts(conf):
    conf.register_opts(LUPINE_OPTS, group=LUPINE)
    conf.register_opts(SIM_OPTS, group=SIM)


def list_opts():
    return {LUPINE: LUPINE_OPTS, SIM: SIM_OPTS}
