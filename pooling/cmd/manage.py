"""pooling-manage: operator commands (db sync, db version, drivers probe, what-if)."""

import argparse
import json
import sys

from pooling.cmd import common
from pooling.cmd import whatif


def _db_sync(conf, args):
    from pooling.db import migration

    migration.upgrade(args.revision)
    print('Database is at revision %s' % migration.version())


def _db_version(conf, args):
    from pooling.db import migration

    print(migration.version() or 'none')


def _drivers_probe(conf, args):
    from pooling.agent import driver_loader
    from pooling.agent import manager

    names = args.drivers.split(',') if args.drivers else conf.agent.enabled_drivers
    try:
        report = driver_loader.probe(names, manager.driver_options(conf))
    except driver_loader.UnknownDriverError as err:
        sys.exit('pooling-manage: %s' % err)
    report.append(_remoting_probe(conf))
    print(json.dumps(report, indent=2, sort_keys=True, default=str))


def _remoting_probe(conf) -> dict:
    """The remote backend this host would run: installed, and of the pinned version?"""
    from pooling.agent import remote
    from pooling_drivers.remoting import base

    name = remote.backend_name(conf)
    try:
        result = base.load(name, remote.backend_options(conf, name)).probe()
    except (base.RemotingError, ValueError) as err:
        return {'name': 'remoting:' + name, 'available': False, 'reason': str(err)}
    return {'name': 'remoting:' + name, 'available': result.ok,
            'reason': None if result.ok else result.detail, 'version': result.version,
            'expected_version': result.expected_version, 'detail': result.detail}


def build_parser():
    parser = argparse.ArgumentParser(prog='pooling-manage', description=__doc__)
    parser.add_argument('--config-file', action='append', default=[],
                        help='Configuration file (may be given several times).')
    parser.add_argument('--database-connection', help='Override [database] connection.')
    sub = parser.add_subparsers(dest='category', required=True)
    db = sub.add_parser('db', help='Database schema.').add_subparsers(dest='action',
                                                                      required=True)
    sync = db.add_parser('sync', help='Upgrade the schema to the latest (or given) revision.')
    sync.add_argument('revision', nargs='?', default='head')
    sync.set_defaults(func=_db_sync)
    db.add_parser('version', help='Print the current schema revision.').set_defaults(
        func=_db_version)
    drivers = sub.add_parser('drivers', help='Accelerator drivers.').add_subparsers(
        dest='action', required=True)
    probe = drivers.add_parser('probe', help='Print what each enabled driver sees here, '
                                                   'and whether the remote backend can run.')
    probe.add_argument('--drivers', help='Comma-separated names (default: [agent] '
                                         'enabled_drivers).')
    probe.set_defaults(func=_drivers_probe)
    whatif.add_parser(sub)
    return parser


def main(argv=None):
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    oslo_args = []
    for path in args.config_file:
        oslo_args += ['--config-file', path]
    conf = common.prepare(oslo_args, configure_db=False)
    if args.database_connection:
        conf.set_override('connection', args.database_connection, group='database')
    if args.category == 'db' or getattr(args, whatif.NEEDS_DB, False):
        from pooling.db import api as db_api

        db_api.configure(conf)
    return args.func(conf, args)


if __name__ == '__main__':
    sys.exit(main())
