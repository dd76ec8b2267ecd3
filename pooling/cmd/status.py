"""pooling-status upgrade check."""

import sys

from oslo_config import cfg
from oslo_upgradecheck import upgradecheck

from pooling import conf as pooling_conf
from pooling.db import api as db_api
from pooling.db import migration


class Checks(upgradecheck.UpgradeCommands):
    """Checks an operator runs before and after an upgrade."""

    def __init__(self, conf):
        self.conf = conf

    def _check_schema(self):
        db_api.configure(self.conf)
        current = migration.version()
        if current is None:
            return upgradecheck.Result(upgradecheck.Code.FAILURE,
                                       'The database has no schema: run pooling-manage db sync.')
        return upgradecheck.Result(upgradecheck.Code.SUCCESS, 'Schema at %s.' % current)

    _upgrade_checks = (('Database schema', _check_schema),)


def main(argv=None):
    conf = cfg.ConfigOpts()
    pooling_conf.register_opts(conf)
    return upgradecheck.main(conf, project='pooling', upgrade_command=Checks(conf),
                             argv=sys.argv[1:] if argv is None else argv)
