"""pooling-api: serve the API with gunicorn, [api] workers processes.

NOTE: each worker builds its own app after the fork (no preload), so no
thread, DB engine or AMQP connection is shared across a fork.
"""

import os
import sys

from gunicorn.app import base as gunicorn_base

from pooling import metrics
from pooling.cmd import common


class _Server(gunicorn_base.BaseApplication):
    def __init__(self, options):
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from pooling_api import wsgi

        return wsgi.init_application()


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    conf = common.prepare(argv, configure_db=False)
    files = [argv[i + 1] for i, a in enumerate(argv) if a == '--config-file']
    os.environ['POOLING_CONFIG_FILES'] = ','.join(os.path.abspath(f) for f in files)
    sys.argv = sys.argv[:1]  # gunicorn must not read our flags
    metrics.prepare_workers(conf)  # one multiprocess directory for every worker's histograms
    print('pooling-api serving on http://%s:%d with %d workers'
          % (conf.api.host, conf.api.port, conf.api.workers), flush=True)
    _Server({'bind': '%s:%d' % (conf.api.host, conf.api.port), 'workers': conf.api.workers,
             'worker_class': 'gthread', 'threads': conf.api.threads, 'accesslog': None,
             'timeout': 60}).run()
