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

    def _check_remoting(self):
        """LUPINE installed and of the pinned version (device hosts serving remote vGPUs)."""
        from pooling.agent import remote
        from pooling_drivers.remoting import base

        name = remote.backend_name(self.conf)
        try:
            result = base.load(name, remote.backend_options(self.conf, name)).probe()
        except (base.RemotingError, ValueError) as err:
            return upgradecheck.Result(upgradecheck.Code.FAILURE,
                                       'Remote backend %s cannot be loaded: %s' % (name, err))
        if result.ok:
            return upgradecheck.Result(upgradecheck.Code.SUCCESS,
                                       'Remote backend %s: %s.' % (name, result.detail))
        if result.version and result.expected_version:
            # Installed, but not the version clients and servers were pinned to.
            return upgradecheck.Result(upgradecheck.Code.FAILURE,
                                       'Remote backend %s: %s.' % (name, result.detail))
        return upgradecheck.Result(
            upgradecheck.Code.WARNING,
            'Remote backend %s: %s (fine on hosts that serve no remote vGPU).'
            % (name, result.detail))

    _upgrade_checks = (('Database schema', _check_schema),
                       ('Remote backend', _check_remoting))


def main(argv=None):
    conf = cfg.ConfigOpts()
    pooling_conf.register_opts(conf)
    return upgradecheck.main(conf, project='pooling', upgrade_command=Checks(conf),
                             argv=sys.argv[1:] if argv is None else argv)
