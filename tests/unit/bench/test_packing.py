"""The packing benchmark: trace parsing, the arrival protocol and a tiny end-to-end replay."""

import json

from bench import packing
from bench import trace

NODES = """sn,cpu_milli,memory_mib,gpu,model
n0,32000,131072,2,T4
n1,32000,131072,2,T4
n2,16000,65536,1,V100M16
"""

PODS = (
    (
        "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,"
        "deletion_time,scheduled_time\n"
    )
    + """p0,4000,8192,1,500,,LS,Running,0,10,0
p1,4000,8192,1,500,V100M16,LS,Running,0,10,0
p2,8000,8192,2,1000,,LS,Running,0,10,0
p3,2000,4096,0,0,,BE,Running,0,10,0
p4,4000,8192,1,300,T4|V100M16,LS,Running,0,10,0
"""
)

MULTIGPU = """name,cpu_milli,memory_mib,num_gpu,gpu_milli
p0,4000,8192,1,500
p1,8000,8192,2,1000
"""


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_load_nodes_and_pods(tmp_path):
    nodes = trace.load_nodes(_write(tmp_path, "n.csv", NODES))
    assert [(n.name, n.gpus, n.model) for n in nodes] == [
        ("n0", 2, "T4"),
        ("n1", 2, "T4"),
        ("n2", 1, "V100M16"),
    ]
    pods = trace.load_pods(_write(tmp_path, "p.csv", PODS))
    assert pods[1].gpu_spec == frozenset({"V100M16"})
    assert pods[4].gpu_spec == frozenset({"T4", "V100M16"})
    assert pods[3].gpu_demand == 0 and pods[2].gpu_demand == 2000


def test_load_multigpu_file_with_five_columns(tmp_path):
    pods = trace.load_pods(_write(tmp_path, "m.csv", MULTIGPU))
    assert [(p.num_gpu, p.gpu_milli, p.gpu_spec) for p in pods] == [(1, 500, None), (2, 1000, None)]


def test_comparable_mode_request():
    pod = trace.Pod("x", 4000, 8192, 1, 250, frozenset({"T4"}))
    req = trace.to_request(pod)
    assert (
        req.compute_milli,
        req.memory_mb,
        req.count,
        req.models,
        req.cpu_milli,
        req.ram_mb,
        req.locality,
    ) == (250, 8000, 1, frozenset({"T4"}), 4000, 8192, "local")
    assert trace.to_request(pod, remote=True).locality == "remote-allowed"
    cpu_only = trace.to_request(trace.Pod("y", 1000, 10, 0, 0, None))
    assert cpu_only.count == 0


def test_arrival_stream_clones_until_130_percent():
    pods = [trace.Pod("p%d" % i, 1000, 10, 1, 500, None) for i in range(4)]
    stream, _ = trace.arrival_stream(pods, capacity=4000, seed=42)
    demand = sum(p.gpu_demand for p in stream)
    assert demand <= 1.3 * 4000 < demand + 500
    assert sorted(p.name for p in stream[:4]) == ["p0", "p1", "p2", "p3"]
    again, _ = trace.arrival_stream(pods, capacity=4000, seed=42)
    assert [p.name for p in again] == [p.name for p in stream]


def test_arrival_stream_tunes_down_large_traces():
    pods = [trace.Pod("p%d" % i, 1000, 10, 1, 1000, None) for i in range(10)]
    stream, _ = trace.arrival_stream(pods, capacity=4000, seed=1)
    assert sum(p.gpu_demand for p in stream) <= 5200
    assert len(stream) == 5


def test_node_order_is_a_seeded_permutation(tmp_path):
    nodes = trace.load_nodes(_write(tmp_path, "n.csv", NODES))
    import random

    a = trace.node_order(nodes, random.Random(1))
    b = trace.node_order(nodes, random.Random(1))
    assert a == b and sorted(n.name for n in a) == ["n0", "n1", "n2"]


def test_tiny_end_to_end_run(tmp_path, capsys):
    nodes = _write(tmp_path, "n.csv", NODES)
    pods = _write(tmp_path, "p.csv", PODS)
    out = tmp_path / "out.json"
    png = tmp_path / "out.png"
    rc = packing.main(
        [
            "--nodes",
            nodes,
            "--pods",
            pods,
            "--policy",
            "default,bestfit,random",
            "--seeds",
            "42-43",
            "--json",
            str(out),
            "--plot",
            str(png),
            "--quiet",
        ]
    )
    assert rc == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("summary: default ") and "bestfit" in last
    data = json.loads(out.read_text())
    res = data["policies"]["default"]
    assert len(res["unallocated_pct_at_100"]["per_seed"]) == 2
    assert 0 <= res["unallocated_pct_at_100"]["mean"] <= 100
    assert set(res) >= {"alloc_pct_at_first_failure", "curve"}
    assert png.stat().st_size > 0


def test_parse_seeds_and_policy_options():
    assert packing.parse_seeds("42-44,50") == [42, 43, 44, 50]
    policy = packing.make_policy("fgd[scale=2000;host_only_tasks=false]", 42)
    assert policy.scale == 2000.0 and policy.host_only_tasks is False
    assert type(packing.make_policy("gpupacking", 42)).__name__ == "GpuPackingPolicy"


def test_report_table(tmp_path, capsys):
    from bench import report

    out = tmp_path / "r.json"
    out.write_text(
        json.dumps(
            {
                "pods": "/x/openb_pod_list_default.csv",
                "remote": False,
                "policies": {
                    "fgd": {
                        "unallocated_pct_at_100": {"mean": 4.7, "sd": 0.1, "per_seed": [4.6, 4.8]},
                        "alloc_pct_at_first_failure": {"mean": 95.0},
                    }
                },
            }
        )
    )
    report.main([str(out)])
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line == "| default | fgd | 4.70 ± 0.10 | 2 | 95.00 | 4.77 |"


ISLAND_NODES = """sn,cpu_milli,memory_mib,gpu,model
big0,96000,786432,8,V100M32
big1,96000,786432,8,V100M32
"""

ISLAND_PODS = """name,cpu_milli,memory_mib,num_gpu,gpu_milli
s0,1000,1024,1,1000
s1,1000,1024,1,1000
s2,1000,1024,1,1000
q0,4000,4096,4,1000
q1,4000,4096,4,1000
"""


def test_topology_run_counts_avoidable_straddles_through_the_replay_hook(tmp_path):
    """--topology: hosts get two NVLink islands of 4 and the shared replay loop's per-placement
    hook counts 4-card placements that straddle islands while one island could hold them
    (a policy blind to topology makes some; the product's never does); --until ends the curve."""
    nodes = trace.load_nodes(_write(tmp_path, "n.csv", ISLAND_NODES))
    pods = trace.load_pods(_write(tmp_path, "p.csv", ISLAND_PODS))
    blind = aware = 0
    for seed in range(42, 52):
        run = packing.run_one("fgd[topology_aware=false]", nodes, pods, seed, topology=True)
        blind += run["straddling_placements"]
        run = packing.run_one("fgd", nodes, pods, seed, topology=True, until=100)
        aware += run["straddling_placements"]
        assert run["curve"] and max(b for b, _ in run["curve"]) <= 100
    assert blind > 0 and aware == 0
    assert packing.run_one("fgd", nodes, pods, 42)["straddling_placements"] == 0
