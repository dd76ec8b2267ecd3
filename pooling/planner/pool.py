"""What the what-if planner reads of a live pool: its hosts, cards and recorded demand.

Shared by ``pooling-manage what-if`` and ``GET /v1/usage/what-if``.
"""

from __future__ import annotations

import dataclasses

from pooling.objects import device as device_obj
from pooling.objects import host as host_obj
from pooling.objects import pool as pool_obj
from pooling.objects import vgpu as vgpu_obj
from pooling.planner import whatif

_STATES = ('SCHEDULED', 'PREPARING', 'ACTIVE', 'RELEASING', 'DELETED', 'ERROR')


@dataclasses.dataclass(frozen=True)
class PoolRecord:
    where: str
    hosts: list
    devices: list
    vgpus: list | None


def read(context, pool: str | None = None, with_demand: bool = True) -> PoolRecord:
    """The pool's hosts and cards, and (``with_demand``) its recorded vGPUs.

    :raises NotFound: ``pool`` names no pool.
    """
    where = 'pool %s' % pool if pool else 'the pool'
    if pool:
        pool_obj.get_pool(context, pool)
    hosts = host_obj.list_hosts(context, pool=pool)
    devices = device_obj.list_devices(context, pool=pool)
    vgpus = None
    if with_demand:
        vgpus = recorded_demand(context, {h['name'] for h in hosts}, pool)
    return PoolRecord(where, hosts, devices, vgpus)


def recorded_demand(context, pool_hosts, pool) -> list:
    """Every vGPU asked for, in arrival order, holds of the Cyborg bridge left out.

    With a pool, a vGPU counts when one of its slices is on that pool's hosts (a vGPU that
    never got capacity names no host and counts only in the demand of all pools).
    """
    by_uuid = {}
    for state in _STATES:
        # NOTE: one query per state, so a vGPU that moves on (SCHEDULED -> ACTIVE) between two
        # of them is read twice; it is one arrival.
        for v in vgpu_obj.list_vgpus(context, state=state):
            by_uuid.setdefault(v['uuid'], v)
    rows = [v for v in by_uuid.values() if v['project_id'] != vgpu_obj.HOLD_PROJECT]
    if pool:
        rows = [v for v in rows if any(s['host'] in pool_hosts for s in v['slices'])]
    return sorted(rows, key=lambda v: (v['created_at'] or '', v['uuid']))


def hardware(record: PoolRecord, cards: str | None = None, scale: int = 1) -> whatif.Hardware:
    """The pool's hardware, or hypothetical ``cards`` (models it has take its cards' memory)."""
    pool_hw = None
    if record.hosts or record.devices:
        try:
            pool_hw = whatif.hardware_from_pool(record.hosts, record.devices,
                                                "%s's hosts" % record.where)
        except whatif.PlanError:
            if not cards:
                raise
    if cards:
        hw = whatif.hardware_from_cards(cards, pool_hw)
    elif pool_hw is None:
        raise whatif.PlanError('%s has no healthy card on an up host to replay on'
                               % record.where)
    else:
        hw = pool_hw
    return whatif.scaled(hw, scale)


def plan(context, policies, seeds, pool=None, cards=None, scale=1) -> dict:
    """The what-if report of the pool's recorded demand (``whatif.plan``)."""
    record = read(context, pool)
    demand = whatif.demand_from_vgpus(record.vgpus, 'vGPUs recorded in %s' % record.where)
    return whatif.plan(demand, hardware(record, cards, scale), policies, seeds)
