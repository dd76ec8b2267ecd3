"""Multi-card vGPUs by link topology: groups from driver links, card choice, the link filter."""

import random

import pytest

from pooling.scheduler import NoValidHost
from pooling.scheduler import Placement
from pooling.scheduler import PoolModel
from pooling.scheduler import Request
from pooling.scheduler import Scheduler
from pooling.scheduler import SliceAssignment
from pooling.scheduler import load_policy
from pooling.scheduler import topology
from pooling_drivers.accelerators import sim

from .base import take


def _sim_host(model, host="h", islands="0-3,4-7", cards=8):
    """An 8-card simulated host with two NVLink islands, its topology as the driver reports."""
    driver = sim.SimDriver(
        {"host": host, "devices": "nvidia:A100-SXM4-80GB:81920:108:%d" % cards, "islands": islands}
    )
    model.add_host(host)
    for d in driver.discover():
        model.upsert_device(d.uuid, host, d.vendor, d.model, memory_mb=d.memory_mb)
    topo = driver.topology()
    model.set_topology(host, topo.links, topo.numa)
    return [d.uuid for d in driver.discover()]


def _island(model, uuid):
    return model.dev_links[model.dev_index[uuid]][0]


def test_groups_from_links_per_level():
    links = [("a", "b", "nvlink"), ("c", "d", "nvlink"), ("a", "c", "pcie_switch")]
    groups = topology.groups_from_links(["a", "b", "c", "d", "e"], links, [("e", 0), ("a", 0)])
    assert groups["a"][0] == groups["b"][0] != groups["c"][0] == groups["d"][0]
    assert groups["a"][1] == groups["c"][1] == groups["d"][1]
    assert groups["e"][:3] == (4, 4, 4)  # linked to nothing but its NUMA node
    assert groups["e"][3] == groups["a"][3]


def test_pick_best_level_then_best_fit_group():
    groups = [(0, 0, 0, 0), (0, 0, 0, 0), (2, 2, 0, 0), (2, 2, 0, 0), (2, 2, 0, 0)]
    # two cards: the island of two (fewest fitting cards) before the island of three
    assert topology.pick(groups, [0, 1, 2, 3, 4], 2) == [0, 1]
    assert topology.pick(groups, [0, 1, 2, 3, 4], 3) == [2, 3, 4]
    # four cards: no island holds them, the host bridge does
    assert topology.pick(groups, [0, 1, 2, 3, 4], 4) == [0, 1, 2, 3]
    assert topology.pick(groups, [0, 1, 2, 3, 4], 4, "nvlink") is None
    assert topology.pick([None] * 5, [0, 1, 2, 3, 4], 2) == [0, 1]
    assert topology.pick([None] * 5, [0, 1, 2, 3, 4], 2, "numa") is None


@pytest.mark.parametrize("policy", ["default", "fgd", "binpack", "spread", "passthrough"])
def test_four_card_vgpus_never_straddle_islands_while_avoidable(policy):
    model = PoolModel()
    _sim_host(model)
    sched = Scheduler(model, policy)
    rng = random.Random(7)
    live = []
    avoidable = 0
    for _ in range(400):
        if live and rng.random() < 0.45:
            model.release(live.pop(rng.randrange(len(live))))
            continue
        count = rng.choice([1, 1, 2, 4])
        milli = rng.choice([300, 500, 1000]) if count == 1 else 1000
        free = {}
        for i in range(model.n_devices):
            if model.d.whole_free[i]:
                free[model.dev_links[i][0]] = free.get(model.dev_links[i][0], 0) + 1
        try:
            placement = take(model, sched, Request(milli, milli * 80, count=count))
        except NoValidHost:
            continue
        live.append(placement)
        islands = {_island(model, s.device_uuid) for s in placement.slices}
        if count > 1 and max(free.values(), default=0) >= count:
            avoidable += 1
            assert len(islands) == 1, (policy, count, free, placement)
    assert avoidable > 50


def test_without_topology_awareness_the_same_stream_straddles():
    model = PoolModel()
    _sim_host(model)
    sched = Scheduler(model, load_policy("fgd", topology_aware=False))
    take(model, sched, Request(1000, 80000, count=1))  # card 0 of island A
    placement = take(model, sched, Request(1000, 80000, count=4))
    assert len({_island(model, s.device_uuid) for s in placement.slices}) == 2
    model2 = PoolModel()
    _sim_host(model2)
    sched2 = Scheduler(model2, "fgd")
    take(model2, sched2, Request(1000, 80000, count=1))
    placement = take(model2, sched2, Request(1000, 80000, count=4))
    assert len({_island(model2, s.device_uuid) for s in placement.slices}) == 1


def test_demanded_link_level_is_a_filter():
    model = PoolModel()
    uuids = _sim_host(model)
    # one busy card in each island: no island has 4 whole cards left
    for u in (uuids[0], uuids[4]):
        model.apply(Placement("h", (SliceAssignment(u, 1000, 80000, 0),), None))
    sched = Scheduler(model, "default")
    with pytest.raises(NoValidHost) as exc:
        sched.select(Request(1000, 80000, count=4, link="nvlink"))
    assert "sharing a nvlink link or better" in str(exc.value)
    # the islands are the NUMA nodes here: no level short of the inter-socket link joins them
    with pytest.raises(NoValidHost):
        sched.select(Request(1000, 80000, count=4, link="numa"))
    placement = sched.select(Request(1000, 80000, count=4))
    assert len({_island(model, s.device_uuid) for s in placement.slices}) == 2
    three = sched.select(Request(1000, 80000, count=3, link="nvlink"))
    assert len({_island(model, s.device_uuid) for s in three.slices}) == 1


def test_request_link_is_validated():
    with pytest.raises(ValueError, match="link must be one of"):
        Request(1000, 0, count=2, link="infiniband")
    with pytest.raises(ValueError, match="2 or more cards"):
        Request(1000, 0, count=1, link="nvlink")


def test_sim_islands_option():
    driver = sim.SimDriver(
        {"host": "h", "devices": "nvidia:A100-SXM4-80GB:81920:108:8", "islands": "0-1,2+3"}
    )
    devs = driver.discover()
    topo = driver.topology()
    assert topo.link(devs[0].uuid, devs[1].uuid).kind == "nvlink"
    assert topo.link(devs[1].uuid, devs[2].uuid).kind == "pcie_hostbridge"
    assert topo.link(devs[4].uuid, devs[5].uuid).kind == "pcie_hostbridge"
    assert topo.link(devs[0].uuid, devs[7].uuid).kind == "system"
    with pytest.raises(ValueError, match="another island"):
        sim.parse_islands("0-3,3-5")
    with pytest.raises(ValueError, match="first-last"):
        sim.parse_islands("0-x")
