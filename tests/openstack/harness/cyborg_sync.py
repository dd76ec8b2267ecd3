"""Run pooling.cyborg.sync.run_once every few seconds, as pooling-conductor will.

Only for the e2e stack, and only until pooling-conductor calls the sync itself
when ``[cyborg] enabled`` (pooling-up.sh starts this only in that case): one
process, the conductor's RPC API for prepare and release.

usage: cyborg_sync.py CONFIG_FILE
"""

import sys
import time

from oslo_log import log as logging

from pooling import context as pooling_context
from pooling.cmd import common
from pooling.cyborg import opts
from pooling.cyborg import sync

LOG = logging.getLogger('cyborg_sync')


def main(config_file):
    conf = common.prepare(['--config-file', config_file])
    opts.ensure(conf)
    ctx = pooling_context.get_admin_context()
    while True:
        try:
            result = sync.run_once(ctx, conf)
            if (result.get('arqs') or {}).get('bound') or (result.get('arqs') or {}).get(
                    'released'):
                LOG.info('sync: %s', result)
        except Exception:
            LOG.exception('sync pass failed')
        time.sleep(conf.cyborg.sync_interval)


if __name__ == '__main__':
    main(sys.argv[1])
