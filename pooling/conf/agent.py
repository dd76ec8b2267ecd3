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
    cfg.StrOpt('sim_islands',
               help='NVLink islands of the sim driver\'s cards, e.g. "0-3,4-7" (device '
                    'indexes); reported as the host\'s links (default: none).'),
    cfg.StrOpt('sim_health_file',
               help='JSON file mapping a device uuid or index to an unhealthy reason; the sim '
                    'driver re-reads it at every report.'),
    cfg.IntOpt('cpu_milli', min=0,
               help='Host CPU in milli-cores offered to workloads, overriding what the agent '
                    'measures when unset: the CPUs it may run on (its affinity) times 1000, '
                    'lowered by a cgroup CPU quota. 0 = not tracked.'),
    cfg.IntOpt('ram_mb', min=0,
               help='Host RAM in MiB offered to workloads, overriding what the agent measures '
                    'when unset: MemTotal of /proc/meminfo, lowered by a cgroup memory '
                    'limit. 0 = not tracked.'),
    cfg.IntOpt('report_interval', default=10, min=1,
               help='Seconds between device reports and heartbeats.'),
    cfg.StrOpt('state_dir', default='/var/lib/pooling/agent',
               help='Where the agent records what it prepared (slices, remote leases), so '
                    'that after a restart it adopts them and releases what the pool no longer '
                    'holds. Empty keeps records in memory only (tests).'),
    cfg.StrOpt('remoting_backend',
               help='pooling.remoting plugin serving remote slices of this host: sim (the '
                    'data plane of simulated cards) or lupine. Default: sim when the sim '
                    'driver is enabled, else lupine.'),
    cfg.IntOpt('backend_check_interval', default=5, min=1,
               help='Seconds between health checks of the remote backends; a backend given up '
                    'by its plugin marks its vGPU degraded and the conductor fails it over.'),
]

# Per-plugin groups: the agent hands each group, as strings, to the plugin named after it.
ISOLATION_OPTS = [
    cfg.DictOpt('plugins', default={},
                help='Isolation plugin per level or vendor:level, overriding the defaults '
                     '(e.g. nvidia:soft:none).'),
]
MPS_OPTS = [
    cfg.StrOpt('control', default='nvidia-cuda-mps-control',
               help='The MPS control program; firm isolation is advertised only where it is '
                    'found.'),
    cfg.StrOpt('run_dir', default='/var/run/pooling/mps',
               help='Per card <uuid>/pipe and <uuid>/log folders of the MPS daemons.'),
]
HAMI_OPTS = [
    cfg.StrOpt('preload_library', default='/usr/local/vgpu/libvgpu.so',
               help='HAMi-core library loaded with LD_PRELOAD.'),
    cfg.StrOpt('lock_dir', default='/tmp/vgpulock', help="HAMi-core's shared lock folder."),
    cfg.StrOpt('cache_dir', default='/var/lib/pooling/vgpu',
               help="Folder of HAMi-core's per-slice limit caches."),
    cfg.StrOpt('core_policy', default='default', choices=['default', 'force', 'disable'],
               help='force applies the core limit even to a card with one tenant.'),
]
NVIDIA_OPTS = [
    cfg.ListOpt('ignored_xids',
                help='XIDs that do not make a card unhealthy (default the application-caused '
                     '13, 31, 43, 45, 68, 109).'),
]
HYGON_OPTS = [
    cfg.StrOpt('library', help='Path of libhydmi.so when it is not on the loader path.'),
]
GROUPS = {'isolation': ISOLATION_OPTS, 'mps': MPS_OPTS, 'hami': HAMI_OPTS,
          'nvidia': NVIDIA_OPTS, 'hygon': HYGON_OPTS}


def register_opts(conf):
    conf.register_opts(OPTS, group=GROUP)
    for group, opts in GROUPS.items():
        conf.register_opts(opts, group=group)


def list_opts():
    return {GROUP: OPTS, **GROUPS}
