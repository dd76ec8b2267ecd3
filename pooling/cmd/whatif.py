"""``pooling-manage what-if``: replay the pool's demand against other policies and hardware.

The planning itself is ``pooling.planner.whatif``; this module reads the pool from the
database, parses the options and writes the table, JSON and PNG.
"""

import json
import sys

from pooling.planner import openb
from pooling.planner import whatif

NEEDS_DB = 'needs_db'


def add_parser(sub) -> None:
    p = sub.add_parser(
        'what-if', help="Replay the pool's demand with other policies or on other hardware.",
        description=whatif.__doc__.split('\n\n')[1])
    p.add_argument('--pool', help='Only this pool (name or uuid): its vGPUs and hosts.')
    p.add_argument('--trace', metavar='PODS_CSV',
                   help='Replay this Alibaba openb pod file instead of the recorded vGPUs.')
    p.add_argument('--any-model', action='store_true',
                   help="Drop the trace's gpu_spec (its models rarely exist in this pool).")
    p.add_argument('--nodes', metavar='NODES_CSV',
                   help="Replay on this openb node file instead of the pool's hosts.")
    p.add_argument('--cards', metavar='SPEC',
                   help='Replay on hypothetical hosts: MODEL=CARDSxHOSTS[@MEMORY_MB],... '
                        '(a model the pool has takes its memory from the pool).')
    p.add_argument('--scale', type=int, default=1,
                   help='Replay on N times the hosts (default 1).')
    p.add_argument('--policy', help='NAME[,NAME...] of pooling.schedulers (default: all).')
    p.add_argument('--seeds', default='42-44', help='e.g. 42-51 or 42,43 (default 42-44).')
    p.add_argument('--format', choices=('table', 'json'), default='table',
                   help='What to print (default table).')
    p.add_argument('--json', metavar='FILE', help='Also write the JSON report here.')
    p.add_argument('--plot', metavar='FILE', help='Write the fragmentation curves here (PNG).')
    p.set_defaults(func=run, **{NEEDS_DB: True})


def _pool_parts(args):
    from pooling import context as pooling_context
    from pooling.planner import pool as pool_planner

    return pool_planner.read(pooling_context.get_admin_context(), args.pool,
                             with_demand=not args.trace)


def build(args, record=None):
    """(demand, hardware) for the options; ``record`` = the pool as read (read when needed)."""
    from pooling.planner import pool as pool_planner

    if args.nodes and args.cards:
        raise whatif.PlanError('give --nodes or --cards, not both')
    needs_pool = not (args.trace and args.nodes) and not (
        args.trace and args.cards and '@' in args.cards)
    if needs_pool and record is None:
        record = _pool_parts(args)
    if args.trace:
        demand = whatif.demand_from_openb(args.trace, args.any_model)
    else:
        demand = whatif.demand_from_vgpus(record.vgpus, 'vGPUs recorded in %s' % record.where)
    if args.nodes:
        return demand, whatif.scaled(whatif.hardware_from_openb(args.nodes), args.scale)
    record = record or pool_planner.PoolRecord('the pool', [], [], None)
    return demand, pool_planner.hardware(record, args.cards, args.scale)


def run(conf, args, out=None) -> int:
    from pooling import exception
    from pooling.scheduler import framework

    out = out or sys.stdout
    try:
        demand, hardware = build(args)
        policies = (args.policy.split(',') if args.policy else framework.known_policies())
        result = whatif.plan(demand, hardware, policies, whatif.parse_seeds(args.seeds))
    except (whatif.PlanError, openb.TraceMissing, exception.NotFound, ValueError) as err:
        sys.exit('pooling-manage what-if: %s' % err)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=1)
    if args.plot:
        whatif.plot(result, args.plot)
    if args.format == 'json':
        json.dump(result, out, indent=1)
        out.write('\n')
    else:
        out.write(whatif.table(result) + '\n')
    return 0
