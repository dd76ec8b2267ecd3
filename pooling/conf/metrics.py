"""[metrics] options: the Prometheus endpoint of pooling-api and pooling-exporter."""

from oslo_config import cfg

GROUP = 'metrics'

OPTS = [
    cfg.StrOpt('multiproc_dir',
               help="Directory where pooling-api's workers keep prometheus_client's "
                    'per-process files, so that a scrape of any worker (or of '
                    'pooling-exporter on the same host) sums every worker\'s histograms and '
                    'counters. Unset: pooling-api makes a fresh one at each start when it '
                    'runs more than one worker. PROMETHEUS_MULTIPROC_DIR, if set, wins.'),
    cfg.IntOpt('max_projects', default=50, min=1,
               help='vGPUs-by-project series are kept for this many projects (those with the '
                    'most vGPUs); the others are summed under project="other", so that the '
                    'number of series stays bounded.'),
    cfg.IntOpt('max_remote_vgpus', default=100, min=1,
               help='Remote traffic series (pooling_remote_*) are kept per vGPU for this many '
                    'vGPUs (those that moved the most bytes); the others are summed under '
                    'vgpu="other", so that the number of series stays bounded.'),
    cfg.HostAddressOpt('exporter_host', default='127.0.0.1',
                       help='Address pooling-exporter listens on.'),
    cfg.PortOpt('exporter_port', default=9469,
                help='Port pooling-exporter listens on (GET /metrics, no authentication).'),
]


def register_opts(conf):
    conf.register_opts(OPTS, group=GROUP)


def list_opts():
    return {GROUP: OPTS}
