"""The what-if planner: same input and policy as the packing benchmark give the same figures;
recorded vGPUs, scaled and hypothetical hardware, headroom and the CLI's errors."""

import argparse
import io
import json
import os

import pytest

from bench import packing
from bench import trace
from pooling.cmd import whatif as whatif_cmd
from pooling.planner import openb
from pooling.planner import replay
from pooling.planner import whatif
from pooling.scheduler import PoolModel
from pooling.scheduler import Request
from pooling.scheduler import Scheduler

NODES = """sn,cpu_milli,memory_mib,gpu,model
n0,32000,131072,2,T4
n1,32000,131072,2,T4
n2,16000,65536,1,V100M16
n3,64000,262144,4,V100M16
"""

PODS = (
    "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,"
    "deletion_time,scheduled_time\n"
    "p0,4000,8192,1,500,,LS,Running,0,10,0\n"
    "p1,4000,8192,1,500,V100M16,LS,Running,0,10,0\n"
    "p2,8000,8192,2,1000,,LS,Running,0,10,0\n"
    "p3,2000,4096,0,0,,BE,Running,0,10,0\n"
    "p4,4000,8192,1,300,T4|V100M16,LS,Running,0,10,0\n"
    "p5,1000,2048,1,250,,LS,Running,0,10,0\n"
)


@pytest.fixture
def files(tmp_path):
    nodes, pods = tmp_path / "nodes.csv", tmp_path / "pods.csv"
    nodes.write_text(NODES)
    pods.write_text(PODS)
    return str(nodes), str(pods)


@pytest.mark.parametrize("policy", ["binpack", "spread", "fgd", "default"])
def test_openb_files_give_the_benchmarks_figures(files, policy):
    nodes_csv, pods_csv = files
    nodes, pods = trace.load_nodes(nodes_csv), trace.load_pods(pods_csv)
    demand = whatif.demand_from_openb(pods_csv)
    hardware = whatif.hardware_from_openb(nodes_csv)
    result = whatif.plan(demand, hardware, [policy], [42, 43, 44])
    for i, seed in enumerate([42, 43, 44]):
        bench = packing.run_one(policy, nodes, pods, seed)
        got = result["policies"][policy]
        assert got["unallocated_pct_at_100"]["per_seed"][i] == bench["unallocated_pct_at_100"]
    assert got["curve"] == packing.summarise(
        [packing.run_one(policy, nodes, pods, s) for s in [42, 43, 44]])["curve"]
    # FGD's target workload keyed and ordered as the benchmark's (spec string as written).
    assert demand.target_workload() == trace.target_workload(pods)


SHARED = trace.DEFAULT_PODS
RECORDED = os.path.join(trace.REPO, "bench", "results", "default-product.json")


@pytest.mark.skipif(not os.path.isfile(SHARED),
                    reason="no Alibaba openb trace here (python -m bench.trace_fetch)")
def test_shared_trace_gives_the_recorded_benchmark_numbers():
    """bench/results/default-product.json was written by python -m bench.packing on this trace."""
    with open(RECORDED) as f:
        recorded = json.load(f)
    demand = whatif.demand_from_openb(SHARED)
    hardware = whatif.hardware_from_openb(trace.DEFAULT_NODES)
    assert hardware.capacity_milli // 1000 == recorded["gpus"]
    result = whatif.plan(demand, hardware, ["binpack", "spread"], [42, 43])
    for name in ("binpack", "spread"):
        want = recorded["policies"][name]["unallocated_pct_at_100"]["per_seed"][:2]
        assert result["policies"][name]["unallocated_pct_at_100"]["per_seed"] == want


def _vgpu(compute, memory, count=1, models=(), locality="remote-allowed"):
    return {"compute_milli": compute, "memory_mb": memory, "count": count, "models": list(models),
            "isolation": None, "locality": locality}


HOSTS = [{"name": "h1", "state": "up", "fabric": "f", "cpu_milli": 0, "ram_mb": 0},
         {"name": "h2", "state": "up", "fabric": "f", "cpu_milli": 0, "ram_mb": 0},
         {"name": "h3", "state": "down", "fabric": "f", "cpu_milli": 0, "ram_mb": 0}]


def _dev(host, model="A100", health="healthy"):
    return {"host": host, "vendor": "nvidia", "model": model, "compute_total": 1000,
            "memory_mb": 81920, "isolation": ["none", "mps"], "health": health}


DEVICES = [_dev("h1"), _dev("h1"), _dev("h2"), _dev("h2", health="unhealthy"), _dev("h3")]


def test_pool_hardware_keeps_up_hosts_and_healthy_cards():
    hw = whatif.hardware_from_pool(HOSTS, DEVICES, "the pool's hosts")
    assert [h.name for h in hw.hosts] == ["h1", "h2"]
    assert hw.capacity_milli == 3000 and hw.models() == {"A100": 3}
    assert whatif.scaled(hw, 3).capacity_milli == 9000
    assert {h.name for h in whatif.scaled(hw, 2).hosts} == {"h1", "h2", "h1-r1", "h2-r1"}
    with pytest.raises(whatif.PlanError, match="at least 1"):
        whatif.scaled(hw, 0)


def test_recorded_demand_keeps_arrival_order_and_drops_consumer_ties():
    vgpus = [_vgpu(250, 20480), _vgpu(1000, 81920, count=2), _vgpu(500, 40960,
                                                                  locality="remote-required")]
    demand = whatif.demand_from_vgpus(vgpus, "vGPUs recorded in the pool")
    assert [w.request.locality for w in demand.wants][2] == "remote-allowed"
    assert [w.gpu_demand for w in demand.wants] == [250, 2000, 500]
    stream = demand.stream(capacity=3000, rng=__import__("random").Random(1))
    assert stream[:3] == list(demand.wants)  # recorded order first, then clones
    assert sum(w.gpu_demand for w in stream) <= 1.3 * 3000 + 1000
    with pytest.raises(whatif.PlanError, match="no vGPU on record"):
        whatif.demand_from_vgpus([], "pool x")


def test_more_that_fit_counts_the_free_shapes():
    model = PoolModel()
    model.add_host("h", fabric="f")
    for i in range(2):
        model.upsert_device("d%d" % i, "h", "nvidia", "A100", memory_mb=80000)
    sched = Scheduler(model, "binpack")
    model.apply(sched.select(Request(500, 40000)))
    # 1.5 cards free: three halves, one whole card, six quarters
    assert replay.headroom(model, sched, Request(500, 40000)) == 3
    assert replay.headroom(model, sched, Request(1000, 80000, count=1)) == 1
    assert replay.headroom(model, sched, Request(250, 20000)) == 6
    assert model.device("d0").compute_used + model.device("d1").compute_used == 500


def test_hypothetical_cards():
    known = whatif.hardware_from_pool(HOSTS, DEVICES, "pool")
    hw = whatif.hardware_from_cards("A100=8x2, X1=4x3@65536", known)
    assert hw.models() == {"A100": 16, "X1": 12}
    assert {c.memory_mb for c in hw.cards if c.model == "A100"} == {81920}
    assert len(hw.hosts) == 5
    with pytest.raises(whatif.PlanError, match="give its memory"):
        whatif.hardware_from_cards("X2=1x1", known)
    with pytest.raises(whatif.PlanError, match="expected MODEL=CARDSxHOSTS"):
        whatif.hardware_from_cards("A100:8", known)


def test_plan_reports_every_policy_with_table_json_and_plot(tmp_path):
    demand = whatif.demand_from_vgpus(
        [_vgpu(250, 20480), _vgpu(500, 40960), _vgpu(250, 20480), _vgpu(1000, 81920, 2)], "pool")
    hw = whatif.hardware_from_pool(HOSTS, DEVICES, "pool")
    result = whatif.plan(demand, whatif.scaled(hw, 4), ["binpack", "spread"], [1, 2])
    assert set(result["policies"]) == {"binpack", "spread"}
    assert result["common_shapes"][0]["label"] == "25% 20480 MiB"
    for res in result["policies"].values():
        assert 0 <= res["unallocated_pct_at_100"]["mean"] < 100
        assert set(res["more_that_fit"]) == {s["label"] for s in result["common_shapes"]}
        assert res["curve"][-1][0] >= 100
    text = whatif.table(result)
    assert "binpack" in text and "+25% 20480 MiB" in text
    json.dumps(result)
    pytest.importorskip("matplotlib")
    whatif.plot(result, str(tmp_path / "w.png"))
    assert (tmp_path / "w.png").read_bytes()[:4] == b"\x89PNG"


def _args(**kw):
    base = dict(pool=None, trace=None, any_model=False, nodes=None, cards=None, scale=1,
                policy=None, seeds="42", format="json", json=None, plot=None)
    return argparse.Namespace(**{**base, **kw})


def test_cli_on_trace_files_needs_no_database(files, capsys):
    nodes_csv, pods_csv = files
    out = io.StringIO()
    whatif_cmd.run(None, _args(trace=pods_csv, nodes=nodes_csv, policy="binpack"), out=out)
    result = json.loads(out.getvalue())
    assert result["capacity_gpus"] == 9 and list(result["policies"]) == ["binpack"]


def test_cli_errors_say_what_is_wrong(files):
    nodes_csv, pods_csv = files
    with pytest.raises(SystemExit, match="trace file"):
        whatif_cmd.run(None, _args(trace="/nope.csv", nodes=nodes_csv))
    with pytest.raises(SystemExit, match="unknown scheduling policy 'nope'"):
        whatif_cmd.run(None, _args(trace=pods_csv, nodes=nodes_csv, policy="nope"))
    with pytest.raises(SystemExit, match="bad --seeds"):
        whatif_cmd.run(None, _args(trace=pods_csv, nodes=nodes_csv, seeds="x"))
    with pytest.raises(SystemExit, match="not both"):
        whatif_cmd.run(None, _args(trace=pods_csv, nodes=nodes_csv, cards="A=1x1@1"))


def test_fill_to_is_the_benchmarks_clone_rule():
    pods = [openb.Pod("p%d" % i, 1000, 10, 1, 500, None) for i in range(4)]
    stream, _ = openb.arrival_stream(pods, capacity=4000, seed=42)
    assert sum(p.gpu_demand for p in stream) <= 1.3 * 4000


def test_replay_until_and_on_placed():
    model = PoolModel()
    model.add_host("h", fabric="f")
    for i in range(4):
        model.upsert_device("d%d" % i, "h", "nvidia", "A100", memory_mb=80000)
    arrivals = [replay.Arrival(Request(500, 1000), 500)] * 12  # 150 % of 4 cards
    seen = []
    run = replay.replay(model, arrivals, Scheduler(model, "binpack"), 4000,
                        on_placed=lambda m, p: seen.append(p.host), until=100)
    assert run["curve"][-1][0] == 100 and seen == ["h"] * 8


def test_recorded_demand_counts_a_vgpu_that_moved_on_between_queries_once(monkeypatch):
    """One query per state: a vGPU read as SCHEDULED and again as ACTIVE is one arrival."""
    from pooling.objects import vgpu as vgpu_obj
    from pooling.planner import pool

    def row(uuid, state, created):
        return {"uuid": uuid, "state": state, "project_id": "p", "created_at": created,
                "slices": []}

    by_state = {"SCHEDULED": [row("a", "SCHEDULED", "1"), row("b", "SCHEDULED", "2")],
                "ACTIVE": [row("a", "ACTIVE", "1"), row("c", "ACTIVE", "3")]}
    monkeypatch.setattr(vgpu_obj, "list_vgpus",
                        lambda context, state=None: by_state.get(state, []))
    assert [v["uuid"] for v in pool.recorded_demand(None, set(), None)] == ["a", "b", "c"]
