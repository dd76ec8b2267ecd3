"""[scheduler] options: which policy places vGPUs and how fresh its model is."""

from oslo_config import cfg

GROUP = 'scheduler'

OPTS = [
    cfg.StrOpt('policy', default='default',
               help='Placement policy (a pooling.schedulers entry point): spread, binpack, '
                    'passthrough, fgd, default.'),
    cfg.FloatOpt('model_refresh_interval', default=5.0, min=0,
                 help='Seconds after which an API worker reloads its in-memory pool model '
                      'from the DB before deciding. Claims stay safe without it (every claim '
                      'is a compare-and-swap on device generations); it only keeps workers '
                      'from refusing capacity another worker has freed.'),
    cfg.IntOpt('claim_retries', default=10, min=1,
               help='Times a claim re-decides after losing a generation race.'),
]


def register_opts(conf):
    conf.register_opts(OPTS, group=GROUP)


def list_opts():
    return {GROUP: OPTS}
