"""The FGD paper's baselines on tiny crafted clusters (bench/baselines.py)."""

from bench.baselines import GpuClusteringPolicy
from pooling.scheduler import PoolModel
from pooling.scheduler import Request
from pooling.scheduler import Scheduler


def _cluster(*hosts):
    """Hosts ``(name, cards)`` in tie order, 1000-milli cards of 32,000 MiB, ample CPU/RAM."""
    model = PoolModel()
    for name, cards in hosts:
        model.add_host(name, cpu_milli=128000, ram_mb=1 << 20)
        for g in range(cards):
            model.upsert_device("%s-gpu%d" % (name, g), name, "nvidia", "G2", 1000, 32000)
    return model


def _req(milli, count=1):
    return Request(milli, milli * 32, count=count, locality="local", cpu_milli=1000, ram_mb=1024)


def _place(sched, req):
    placement = sched.select(req)
    sched.model.apply(placement)
    return placement.host, [s.device_uuid for s in placement.slices]


def test_gpuclustering_one_affinity_for_every_fractional_share():
    # a fractional pod joins the host that holds only fractional pods, whatever their share,
    # and takes the best-fitting card there; keyed by share it would go to the 1-GPU host.
    sched = Scheduler(_cluster(("a", 2), ("b", 2)), GpuClusteringPolicy())
    assert _place(sched, _req(100)) == ("a", ["a-gpu0"])  # both idle: 43 each, first host
    assert _place(sched, _req(1000)) == ("b", ["b-gpu0"])  # a (share) 19 < b (idle) 43
    # a: only "share" -> 75 + 25*6100//8000 = 94; b: only "1-gpu" -> 25*7000//8000 = 21
    assert _place(sched, _req(810)) == ("a", ["a-gpu0"])


def test_gpuclustering_whole_card_affinity_is_the_card_count():
    # 2-card pods keep to the host of 2-card pods, not the one of 1-card pods before it in the
    # tie order (keyed by share alone, both hosts hold only 1000-milli slices and tie).
    policy = GpuClusteringPolicy()
    sched = Scheduler(_cluster(("y", 8), ("x", 8)), policy)
    assert _place(sched, _req(1000))[0] == "y"
    assert _place(sched, _req(1000))[0] == "y"
    assert _place(sched, _req(1000, 2)) == ("x", ["x-gpu0", "x-gpu1"])  # y 6 < x idle 25
    x = sched.model.host_index["x"]
    sched.select(_req(1000, 2))  # decided but never applied: the ledger must not count it
    second = sched.select(_req(1000, 2))
    sched.model.apply(second)
    assert second.host == "x"  # x: only "2-gpu", 75 + 25*6000//8000 = 81 > y 6
    assert [s.device_uuid for s in second.slices] == ["x-gpu2", "x-gpu3"]
    assert policy.affinities(sched.model, x) == frozenset({"2-gpu"})
    assert policy.affinities(sched.model, sched.model.host_index["y"]) == frozenset({"1-gpu"})
    # a fractional pod: both hold other affinities only (tier 0); x has less left (12 > 6)
    assert _place(sched, _req(500)) == ("x", ["x-gpu4"])
    assert policy.affinities(sched.model, x) == frozenset({"2-gpu", "share"})
    # a release the policy does not see: the whole-card slices no longer match its ledger,
    # so they count as 1-card pods
    sched.model.release(second)
    assert policy.affinities(sched.model, x) == frozenset({"1-gpu", "share"})


def test_gpuclustering_host_only_requests_take_the_first_host():
    sched = Scheduler(_cluster(("a", 2), ("b", 2)), GpuClusteringPolicy())
    _place(sched, _req(1000))
    placement = sched.select(Request(0, 0, count=0, locality="local", cpu_milli=1000))
    assert placement.host == "a" and placement.slices == ()
