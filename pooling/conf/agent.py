"""[agent] options: one pooling-agent per host."""

import socket

from oslo_config import cfg

GROUP = 'agent'

OPTS = [
    cfg.StrOpt('host', default=socket.gethostname(),
               help='Name this agent reports its host under.'),
    cfg.StrOpt('pool', default='default', help='Pool the host belongs to (created if missing).'),
    cfg.StrOpt('fabric', help='Fabric label: remote vGPUs may cross hosts with the same label.'),
    cfg.ListOpt('enabled_drivers', default=['sim'],
                help='Accelerator drivers (pooling.accelerators entry points) to load. An '
                     'unknown name stops the agent at start.'),
    cfg.StrOpt('sim_devices', default='nvidia:A100-SXM4-80GB:81920:108:4',
               help='Cards the sim driver simulates: vendor:model:memory_mb:compute_units:'
                    'count, comma separated. Empty for a consumer host without devices.'),
    cfg.StrOpt('sim_health_file',
               help='JSON file mapping a device uuid or index to an unhealthy reason; the sim '
                    'driver re-reads it at every report.'),
    cfg.IntOpt('cpu_milli', default=0, min=0,
               help='Host CPU in milli-cores offered to workloads (0 = not tracked).'),
    cfg.IntOpt('ram_mb', default=0, min=0,
               help='Host RAM in MiB offered to workloads (0 = not tracked).'),
    cfg.IntOpt('report_interval', default=10, min=1,
               help='Seconds between device reports and heartbeats.'),
]


def register_opts(conf):
    conf.register_opts(OPTS, group=GROUP)


def list_opts():
    return {GROUP: OPTS}
