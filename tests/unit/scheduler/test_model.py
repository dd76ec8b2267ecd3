"""PoolModel: capacity bookkeeping, generations, snapshots and popularity."""

import pytest

from pooling.scheduler import Placement
from pooling.scheduler import PoolModel
from pooling.scheduler import Request
from pooling.scheduler import SliceAssignment
from tests.unit.scheduler.base import pool


def test_apply_release_adjusts_capacity_and_bumps_generation():
    m = pool({"h1": 1}, cpu_milli=4000, ram_mb=8000)
    p = Placement("h1", (SliceAssignment("h1-d0", 250, 10000, 0),), "h1", 1000, 2000)
    m.apply(p)
    d = m.device("h1-d0")
    assert (d.compute_used, d.memory_used, d.generation) == (250, 10000, 1)
    assert (d.compute_free, d.memory_free) == (750, 30000)
    h = m.host("h1")
    assert (h.cpu_used, h.ram_used) == (1000, 2000)
    m.release(p)
    d = m.device("h1-d0")
    assert (d.compute_used, d.memory_used, d.generation) == (0, 0, 2)
    assert m.host("h1").cpu_used == 0


def test_reupsert_keeps_nothing_stale():
    m = pool({"h1": 1, "h2": 0})
    m.apply(Placement("h1", (SliceAssignment("h1-d0", 500, 100, 0),), "h1"))
    m.upsert_device(
        "h1-d0", "h2", "nvidia", "H100", compute_total=1000, memory_mb=80000, generation=7
    )
    d = m.device("h1-d0")
    assert (d.host, d.model, d.compute_used, d.memory_used, d.generation) == ("h2", "H100", 0, 0, 7)
    assert m.host("h1").devices == ()
    assert m.host("h2").devices == ("h1-d0",)


def test_remove_host_removes_its_devices():
    m = pool({"h1": 2, "h2": 1})
    m.remove_host("h1")
    assert [h.name for h in m.hosts] == ["h2"]
    assert [d.uuid for d in m.devices] == ["h2-d0"]
    with pytest.raises(KeyError):
        m.device("h1-d0")


def test_untracked_cpu_ram_reported_as_zero():
    m = PoolModel()
    m.add_host("h1", fabric="f")
    h = m.host("h1")
    assert (h.cpu_milli, h.cpu_used, h.fabric, h.up, h.pool) == (0, 0, "f", True, "default")


def test_popularity_observed_and_target():
    m = PoolModel()
    for _ in range(3):
        m.observe(Request(500, 1000, cpu_milli=2000))
    m.observe(Request(1000, 1000))
    wl = m.observed_workload()
    assert wl[0] == ((2000, 500, 1, None), 3)
    assert m.target_workload is None
    m.set_target_workload([(Request(250, 10), 2.0)])
    assert m.target_workload == [((0, 250, 1, None), 2.0)]
