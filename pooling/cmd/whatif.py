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
    from pooling.objects import device as device_obj
    from pooling.objects import host as host_obj
    from pooling.objects import pool as pool_obj
    from pooling.objects import vgpu as vgpu_obj

    ctx = pooling_context.get_admin_context()
    where = 'pool %s' % args.pool if args.pool else 'the pool'
    if args.pool:
        pool_obj.get_pool(ctx, args.pool)  # NotFound names it
    hosts = host_obj.list_hosts(ctx, pool=args.pool)
    devices = device_obj.list_devices(ctx, pool=args.pool)
    vgpus = None
    if not args.trace:
        vgpus = recorded_demand(ctx, vgpu_obj, {h['name'] for h in hosts}, args.pool)
    return where, hosts, devices, vgpus


def recorded_demand(ctx, vgpu_obj, pool_hosts, pool) -> list:
    """Every vGPU asked for, in arrival order, holds of the Cyborg bridge left out.

    With a pool, a vGPU counts when one of its slices is on that pool's hosts (a vGPU that
    never got capacity names no host and counts in every pool's demand only without --pool).
    """
    rows = []
    for state in ('SCHEDULED', 'PREPARING', 'ACTIVE', 'RELEASING', 'DELETED', 'ERROR'):
        rows += vgpu_obj.list_vgpus(ctx, state=state)
    rows = [v for v in rows if v['project_id'] != vgpu_obj.HOLD_PROJECT]
    if pool:
        rows = [v for v in rows if any(s['host'] in pool_hosts for s in v['slices'])]
    return sorted(rows, key=lambda v: (v['created_at'] or '', v['uuid']))


def build(args, parts=None):
    """(demand, hardware) for the options; ``parts`` = ``_pool_parts`` (read when needed)."""
    needs_pool = not (args.trace and args.nodes) and not (
        args.trace and args.cards and '@' in args.cards)
    if needs_pool and parts is None:
        parts = _pool_parts(args)
    where, hosts, devices, vgpus = parts or ('the pool', [], [], None)
    if args.nodes and args.cards:
        raise whatif.PlanError('give --nodes or --cards, not both')
    if args.trace:
        demand = whatif.demand_from_openb(args.trace, args.any_model)
    else:
        demand = whatif.demand_from_vgpus(vgpus, 'vGPUs recorded in %s' % where)
    pool_hw = None
    if hosts or devices:
        try:
            pool_hw = whatif.hardware_from_pool(hosts, devices, "%s's hosts" % where)
        except whatif.PlanError:
            if not (args.nodes or args.cards):
                raise
    if args.nodes:
        hardware = whatif.hardware_from_openb(args.nodes)
    elif args.cards:
        hardware = whatif.hardware_from_cards(args.cards, pool_hw)
    elif pool_hw is None:
        raise whatif.PlanError('%s has no healthy card on an up host to replay on' % where)
    else:
        hardware = pool_hw
    return demand, whatif.scaled(hardware, args.scale)


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
