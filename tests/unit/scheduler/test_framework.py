"""Scheduler filters, locality, NoValidHost messages and plugin loading."""

import pytest

from pooling.scheduler import NoValidHost
from pooling.scheduler import PoolModel
from pooling.scheduler import Request
from pooling.scheduler import Scheduler
from pooling.scheduler import load_policy
from tests.unit.scheduler.base import pool
from tests.unit.scheduler.base import take


def test_select_does_not_mutate_model():
    m = pool({"h1": 1})
    before = (m.version, m.device("h1-d0"))
    Scheduler(m, "binpack").select(Request(300, 100))
    assert (m.version, m.device("h1-d0")) == before


def test_slice_carries_generation_of_decision():
    m = pool({"h1": 1})
    s = Scheduler(m, "binpack")
    take(m, s, Request(300, 100))
    p = s.select(Request(300, 100))
    assert p.slices[0].generation == 1


def test_free_compute_and_memory_filter_with_message():
    m = pool({"h1": 1})
    s = Scheduler(m, "binpack")
    take(m, s, Request(700, 10000))
    with pytest.raises(NoValidHost) as exc:
        s.select(Request(400, 20000, models={"A100"}))
    assert str(exc.value) == (
        "no healthy device of model(s) A100 with 40 % compute and 20000 MiB free"
    )
    # memory alone can stop it too
    with pytest.raises(NoValidHost):
        s.select(Request(100, 35000))


def test_model_vendor_isolation_health_filters():
    m = pool({"h1": 1, "h2": 1})
    m.upsert_device(
        "h2-d0", "h2", "huawei", "Ascend910B", memory_mb=64000, isolation={"hard", "none"}
    )
    s = Scheduler(m, "binpack")
    assert s.select(Request(100, 1, models={"Ascend910B"})).host == "h2"
    assert s.select(Request(100, 1, vendors={"nvidia"})).host == "h1"
    assert s.select(Request(100, 1, isolation="hard")).host == "h2"
    m.set_device_health("h2-d0", False)
    with pytest.raises(NoValidHost, match="no healthy device with hard isolation"):
        s.select(Request(100, 1, isolation="hard"))


def test_pool_and_host_up_filters():
    m = pool({"h1": 1})
    m.add_host("h2", pool="edge")
    m.upsert_device("h2-d0", "h2", "nvidia", "A100", memory_mb=40000)
    s = Scheduler(m, "binpack")
    assert s.select(Request(100, 1, pool="edge")).host == "h2"
    m.set_host_up("h2", False)
    with pytest.raises(NoValidHost, match="no host in pool edge is up"):
        s.select(Request(100, 1, pool="edge"))
    with pytest.raises(NoValidHost, match="no host in pool nowhere"):
        s.select(Request(100, 1, pool="nowhere"))


def test_multi_card_needs_whole_free_cards_on_one_host():
    m = pool({"h1": 2, "h2": 2})
    s = Scheduler(m, "binpack")
    take(m, s, Request(100, 1))  # h1-d0 partly used
    p = s.select(Request(1000, 0, count=2))
    assert p.host == "h2"
    assert [x.compute_milli for x in p.slices] == [1000, 1000]
    assert [x.memory_mb for x in p.slices] == [40000, 40000]
    m.apply(p)
    msg = r"no host has 2 free whole cards of any model \(at most 1 on one host\)"
    with pytest.raises(NoValidHost, match=msg):
        s.select(Request(1000, 0, count=2))


def test_host_cpu_ram_filter_for_local_workloads():
    m = pool({"h1": 1, "h2": 1}, cpu_milli=4000, ram_mb=8000)
    s = Scheduler(m, "binpack")
    take(m, s, Request(100, 1, cpu_milli=3000, locality="local"))
    p = s.select(Request(100, 1, cpu_milli=2000, locality="local"))
    assert (p.host, p.cpu_host) == ("h2", "h2")
    take(m, s, Request(100, 1, cpu_milli=3000, locality="local"))
    with pytest.raises(NoValidHost, match="no host with such devices also has 2000 milli-CPU"):
        s.select(Request(100, 1, cpu_milli=2000, locality="local"))


def test_remote_relaxation_runs_workload_on_another_fabric_host():
    m = pool({"h1": 1}, cpu_milli=1000, fabric="f1")
    m.add_host("cpu1", fabric="f1", cpu_milli=64000)
    m.add_host("cpu2", fabric="f2", cpu_milli=64000)
    s = Scheduler(m, "binpack")
    p = s.select(Request(500, 1, cpu_milli=8000))  # remote-allowed, no consumer
    assert (p.host, p.cpu_host, p.remote) == ("h1", "cpu1", True)
    with pytest.raises(NoValidHost):
        s.select(Request(500, 1, cpu_milli=8000, locality="local"))


def test_consumer_locality_and_fabric():
    m = pool({"h1": 1, "h2": 1, "h3": 1}, fabric="f1")
    m.add_host("far", fabric="f2")
    m.upsert_device("far-d0", "far", "nvidia", "A100", memory_mb=40000)
    s = Scheduler(m, "binpack")
    assert s.select(Request(100, 1, locality="local", consumer_host="h2")).host == "h2"
    p = s.select(Request(100, 1, locality="remote-required", consumer_host="h1"))
    assert p.host in ("h2", "h3") and p.cpu_host == "h1"
    m.set_host_up("h2", False)
    m.set_host_up("h3", False)
    with pytest.raises(NoValidHost, match="fabric of consumer host h1"):
        s.select(Request(100, 1, locality="remote-required", consumer_host="h1"))
    assert s.select(Request(100, 1, consumer_host="h1")).host == "h1"
    with pytest.raises(NoValidHost, match="consumer host nope is unknown"):
        s.select(Request(100, 1, consumer_host="nope"))


def test_host_only_request():
    m = pool({"h1": 1}, cpu_milli=4000)
    p = Scheduler(m, "fgd").select(Request(0, 0, count=0, cpu_milli=1000))
    assert (p.host, p.slices, p.cpu_host) == ("h1", (), "h1")


def test_request_validation():
    with pytest.raises(ValueError):
        Request(0, 1)
    with pytest.raises(ValueError):
        Request(1001, 1)
    with pytest.raises(ValueError, match="locality"):
        Request(10, 1, locality="nearby")
    with pytest.raises(ValueError, match="consumer_host"):
        Request(10, 1, locality="remote-required")
    assert Request(10, 1, models=["A100"]).models == frozenset({"A100"})


def test_load_policy_unknown_lists_known_names():
    with pytest.raises(ValueError) as exc:
        load_policy("nope")
    for name in ("spread", "binpack", "passthrough", "fgd", "default"):
        assert name in str(exc.value)
    assert load_policy("binpack").choose


def test_empty_pool():
    with pytest.raises(NoValidHost, match="no host in any pool"):
        Scheduler(PoolModel(), "spread").select(Request(100, 1))
