"""[platforms] options: which pooling.platforms drivers a host runs, and their settings."""

from oslo_config import cfg

GROUP = 'platforms'

OPTS = [
    cfg.ListOpt('enabled', default=[],
                help='pooling.platforms drivers this host hands vGPUs to (e.g. cdi). Empty: '
                     'none; the host still answers the conductor.'),
    cfg.StrOpt('cdi_spec_dir', default='/var/run/cdi',
               help='Dynamic CDI spec directory the cdi driver writes one spec per vGPU into.'),
    cfg.ListOpt('cdi_platforms', default=['container', 'cdi', 'docker', 'podman',
                                          'containerd', 'cri-o'],
                help='Consumer platforms the cdi driver serves on this host. Kubernetes claims '
                     "are written by pooling-k8s's kubelet plugin instead."),
    cfg.StrOpt('cdi_lease_dir', default='/var/lib/pooling/leases',
               help="Where the cdi driver writes remote vGPUs' lease documents (mode 0600)."),
    cfg.StrOpt('cdi_lease_path', default='/etc/pooling/lease.json',
               help="Where a container sees its remote vGPU's lease (mounted read-only)."),
    cfg.StrOpt('cdi_dev_root', default='/',
               help="The host's root as the agent sees it; prefixed to device nodes' hostPath."),
    cfg.ListOpt('cdi_mounts', default=[],
                help='Library mounts for every vGPU container: host[:container[:rw]].'),
    cfg.IntOpt('sync_interval', default=60, min=1,
               help='Seconds between the conductor\'s passes that send every live host its '
                    'ACTIVE vGPUs so its platform drivers reconcile (at most once per '
                    '[conductor] reconcile_interval).'),
    cfg.IntOpt('detach_timeout', default=30, min=1,
               help='Seconds the conductor waits for a consumer host to detach a vGPU.'),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(OPTS, group=GROUP)


def list_opts():
    return {GROUP: OPTS}
