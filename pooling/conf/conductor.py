"""[conductor] options and the messaging defaults."""

from oslo_config import cfg

GROUP = 'conductor'

OPTS = [
    cfg.IntOpt('host_down_after', default=60, min=1,
               help='Seconds without a heartbeat after which a host is marked down and the '
                    'scheduler stops using it.'),
    cfg.IntOpt('reconcile_interval', default=15, min=1,
               help='Seconds between reconciler passes (stuck vGPUs, dead hosts, leaks).'),
    cfg.IntOpt('stuck_after', default=30, min=1,
               help='Seconds a vGPU may stay SCHEDULED, PREPARING or RELEASING before the '
                    'reconciler drives it again.'),
    cfg.IntOpt('prepare_timeout', default=300, min=1,
               help='Seconds a vGPU may wait for an agent that does not answer (it may be '
                    'restarting) before it goes to ERROR.'),
    cfg.IntOpt('agent_timeout', default=30, min=1,
               help='Seconds to wait for an agent to prepare or release a slice.'),
    cfg.StrOpt('name',
               help='Name of this conductor among those sharing the database (default '
                    'hostname:pid).'),
    cfg.IntOpt('agent_calls_per_host', default=2, min=1,
               help='Calls in flight to one agent at a time. Each host has its own bound, so '
                    'a silent agent holds only its own calls, never those of other hosts.'),
    cfg.IntOpt('heartbeat_interval', default=2, min=1,
               help='Seconds between this conductor\'s heartbeats in the database.'),
    cfg.IntOpt('takeover_after', default=6, min=2,
               help='Seconds after which the work of a conductor without heartbeat (and '
                    'SCHEDULED or RELEASING vGPUs no conductor took) is taken over.'),
]


def register_opts(conf):
    conf.register_opts(OPTS, group=GROUP)


def list_opts():
    return {GROUP: OPTS}
