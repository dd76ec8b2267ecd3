"""Each policy's choice on small crafted pools."""

import pytest

from pooling.scheduler import PoolModel
from pooling.scheduler import Request
from pooling.scheduler import Scheduler
from pooling.scheduler import load_policy
from tests.unit.scheduler.base import pool
from tests.unit.scheduler.base import take


def test_binpack_fills_fullest_host_and_card():
    m = pool({"h1": 2, "h2": 2})
    s = Scheduler(m, "binpack")
    first = take(m, s, Request(300, 1))
    second = take(m, s, Request(300, 1))
    assert first.slices[0].device_uuid == second.slices[0].device_uuid == "h1-d0"
    take(m, s, Request(500, 1))  # does not fit h1-d0 (400 left) -> h1-d1
    assert m.device("h1-d1").compute_used == 500


def test_spread_uses_emptiest_host_and_card():
    m = pool({"h1": 2, "h2": 2})
    s = Scheduler(m, "spread")
    a = take(m, s, Request(300, 1))
    b = take(m, s, Request(300, 1))
    c = take(m, s, Request(300, 1))
    assert (a.host, b.host) == ("h1", "h2")
    assert c.slices[0].device_uuid == "h1-d1"


def test_passthrough_rounds_up_to_whole_cards():
    m = pool({"h1": 1, "h2": 1})
    s = Scheduler(m, "passthrough")
    p = take(m, s, Request(100, 1))
    assert p.slices[0].compute_milli == 1000
    take(m, s, Request(100, 1))
    with pytest.raises(Exception, match="whole card"):
        s.select(Request(100, 1))


def _fgd_pool():
    # h1 has a card with 300 free, h2 a card with 500 free; popular shape: 500.
    m = pool({"h1": 1, "h2": 1})
    s = Scheduler(m, "binpack")
    take(m, s, Request(700, 1))
    m.apply(s.select(Request(500, 1)))  # binpack: h1 is full-ish, goes to h2
    return m


@pytest.mark.parametrize("policy", ["fgd", "default"])
def test_fgd_keeps_room_for_popular_shape(policy):
    m = _fgd_pool()
    assert m.device("h1-d0").compute_free == 300
    assert m.device("h2-d0").compute_free == 500
    m.set_target_workload([(Request(500, 1), 9), (Request(300, 1), 1)])
    # a 200 request: on h2 it would leave 300 (useless for the popular 500 shape);
    # on h1 it leaves 100, and h2's 500 stays usable.
    p = Scheduler(m, policy).select(Request(200, 1))
    assert p.host == "h1"
    # binpack would choose h1 too (least free); spread chooses h2: FGD must differ from spread
    assert Scheduler(m, "spread").select(Request(200, 1)).host == "h2"


def test_fgd_prefers_card_that_keeps_whole_cards_free():
    m = pool({"h1": 2})
    s = Scheduler(m, "binpack")
    take(m, s, Request(400, 1))  # h1-d0 has 600 free
    m.set_target_workload([(Request(1000, 1), 1)])
    p = Scheduler(m, "fgd").select(Request(300, 1))
    assert p.slices[0].device_uuid == "h1-d0"


def test_fgd_online_learns_observed_shapes():
    m = _fgd_pool()
    s = Scheduler(m, "default-online")
    for _ in range(20):
        m.observe(Request(500, 1))
    m.observe(Request(200, 1))
    assert s.select(Request(200, 1)).host == "h1"


def test_fgd_without_any_workload_still_places():
    m = pool({"h1": 1})
    assert Scheduler(m, "fgd").select(Request(100, 1)).host == "h1"


def test_fgd_score_cache_follows_model_changes():
    m = pool({"h1": 1, "h2": 1})
    m.set_target_workload([(Request(1000, 1), 1)])
    s = Scheduler(m, "fgd")
    a = take(m, s, Request(600, 1))
    b = take(m, s, Request(600, 1))  # must see that the first card has only 400 left
    assert a.host != b.host
    m.release(a)
    m.release(b)
    c = s.select(Request(1000, 1))
    assert c.host == "h1"


def test_default_keeps_cpu_to_feed_idle_cards_where_fgd_ties():
    m = pool({}, cpu_milli=0)
    m.add_host("poor", cpu_milli=16000)
    m.add_host("rich", cpu_milli=64000)
    for h in ("poor", "rich"):
        for i in range(2):
            m.upsert_device("%s-d%d" % (h, i), h, "nvidia", "A100", memory_mb=40000)
    m.set_target_workload(
        [(Request(1000, 0, cpu_milli=6000), 1), (Request(500, 0, cpu_milli=6000), 1)]
    )
    req = Request(1000, 0, cpu_milli=10000, locality="local")
    # FGD: both hosts still fit every task shape afterwards -> tie -> host order.
    assert Scheduler(m, "fgd").select(req).host == "poor"
    # default: 6000 milli-CPU left on 'poor' cannot feed its last card at 8 CPU per card.
    assert Scheduler(m, "default").select(req).host == "rich"


def test_binpack_puts_host_only_work_where_no_card_idles():
    m = pool({"h1": 1, "h2": 1}, cpu_milli=8000)
    s = Scheduler(m, "binpack")
    take(m, s, Request(1000, 1, locality="local", consumer_host="h2"))
    p = s.select(Request(0, 0, count=0, cpu_milli=1000))
    assert (p.host, p.slices) == ("h2", ())


def _scarce_pool():
    """A 2-card T4 host with CPU to spare, then a CPU-tight 8-card G2 host; half the workload
    can only run on T4."""
    m = PoolModel()
    m.add_host("t4", cpu_milli=64000, ram_mb=10**6)
    m.add_host("g2", cpu_milli=20000, ram_mb=10**6)
    for i in range(2):
        m.upsert_device("t4-%d" % i, "t4", "nvidia", "T4", memory_mb=16000)
    for i in range(8):
        m.upsert_device("g2-%d" % i, "g2", "nvidia", "G2", memory_mb=16000)
    m.set_target_workload([((4000, 1000, 1, frozenset({"T4"})), 1.0), ((4000, 1000, 1, None), 1.0)])
    return m


def test_default_keeps_scarce_models_for_the_requests_that_need_them():
    # A CPU-heavy request that may run anywhere: the CPU term alone sends it to the T4 host
    # (G2 would strand cards for lack of CPU), which the T4-only half of the workload needs.
    req = Request(1000, 16000, count=1, cpu_milli=10000)
    plain = load_policy("default", reserve_weight=0.0)
    assert Scheduler(_scarce_pool(), plain).select(req).host == "t4"
    assert Scheduler(_scarce_pool(), "default").select(req).host == "g2"
    assert Scheduler(_scarce_pool(), "default-online").select(req).host == "t4"  # no history


def test_reserve_is_the_share_constrained_shapes_take_of_a_model():
    from pooling.scheduler.policies.fgd_tables import reserve as _reserve

    m = _scarce_pool()
    t4, g2 = m.models.ids["T4"], m.models.ids["G2"]
    # T4-only shapes: half the demand, on a fifth of the cards -> capped at 1
    assert _reserve(m, [(4000, 1000, 1, frozenset({t4}), 1.0), (4000, 1000, 1, None, 1.0)]) == {
        t4: 1.0
    }
    both = _reserve(m, [(0, 500, 1, frozenset({t4, g2}), 1.0), (0, 500, 1, None, 9.0)])
    assert both == {t4: pytest.approx(0.1), g2: pytest.approx(0.1)}
    assert _reserve(m, [(0, 500, 1, None, 1.0)]) == {}
