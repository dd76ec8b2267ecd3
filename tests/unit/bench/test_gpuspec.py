"""The gpu_spec level generator and the artifact's keying of the target workload."""

import collections
import csv

import pytest

from bench import gpuspec
from bench import trace

HEAD = (
    "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,"
    "deletion_time,scheduled_time\n"
)
NODES = """sn,cpu_milli,memory_mib,gpu,model
n0,96000,393216,8,G2
n1,104000,524288,2,T4
n2,16000,65536,2,P100
"""


def _base(n=400):
    rows = []
    for i in range(n):
        kind = i % 4
        num, milli = [(1, 500), (1, 1000), (4, 1000), (0, 0)][kind]
        rows.append("p%03d,4000,8192,%d,%d,,LS,Running,0,1,0" % (i, num, milli))
    return HEAD + "\n".join(rows) + "\n"


def _profile(tmp_path):
    text = HEAD + "\n".join(
        [
            "s0,4000,8192,1,500,T4,LS,Running,0,1,0",
            "s1,4000,8192,1,500,P100,LS,Running,0,1,0",
            "s2,4000,8192,1,500,,LS,Running,0,1,0",
            "o0,4000,8192,1,1000,G2,LS,Running,0,1,0",
            "o1,4000,8192,1,1000,V100M16|V100M32|V100M32,LS,Running,0,1,0",
            "o2,4000,8192,1,1000,,LS,Running,0,1,0",
            "m0,4000,8192,4,1000,G2,LS,Running,0,1,0",
            "m1,4000,8192,4,1000,P100,LS,Running,0,1,0",
            "m2,4000,8192,4,1000,,LS,Running,0,1,0",
        ]
    )
    path = tmp_path / "spec.csv"
    path.write_text(text + "\n")
    return gpuspec.Profile.learn([str(path)])


def test_level_is_exact_only_gpu_spec_changes_and_specs_follow_the_kind(tmp_path):
    base = tmp_path / "base.csv"
    base.write_text(_base())
    nodes_path = tmp_path / "n.csv"
    nodes_path.write_text(NODES)
    nodes = trace.load_nodes(str(nodes_path))
    profile = _profile(tmp_path)
    fields, rows = gpuspec.generate(str(base), 0.34, profile, nodes, seed=1)
    gpu = [r for r in rows if int(r["num_gpu"])]
    constrained = [r for r in gpu if r["gpu_spec"]]
    assert len(constrained) == round(0.34 * len(gpu))
    orig = {r["name"]: r for r in csv.DictReader(open(base))}
    for r in rows:
        assert {k: v for k, v in r.items() if k != "gpu_spec"} == {
            k: v for k, v in orig[r["name"]].items() if k != "gpu_spec"
        }
    by_kind = collections.defaultdict(set)
    for r in constrained:
        by_kind[gpuspec.kind(int(r["num_gpu"]), int(r["gpu_milli"]))].add(r["gpu_spec"])
    assert by_kind["share"] <= {"T4", "P100"}
    assert by_kind["one"] <= {"G2"}  # V100 is not in this cluster: never drawn
    assert by_kind["multi"] == {"G2"}  # P100 hosts have 2 cards, not 4
    again = gpuspec.generate(str(base), 0.34, profile, nodes, seed=1)
    assert again == (fields, rows)
    other = gpuspec.generate(str(base), 0.34, profile, nodes, seed=2)[1]
    assert [r["gpu_spec"] for r in other] != [r["gpu_spec"] for r in rows]
    with pytest.raises(ValueError):
        gpuspec.generate(str(base), 1.5, profile, nodes)


def test_whole_card_pods_are_constrained_at_their_learned_rate(tmp_path):
    profile = _profile(tmp_path)
    assert profile.rates == {"share": 2 / 3, "one": 2 / 3, "multi": 2 / 3}
    assert gpuspec._split(10, {"share": 1.0, "one": 2.0, "multi": 1.0}) == {
        "share": 3,
        "one": 5,
        "multi": 2,
    }


def test_target_workload_keys_by_spec_string_in_the_artifacts_order():
    pods = [
        trace.Pod("a", 4000, 1, 1, 1000, frozenset({"V100M16", "V100M32"}), "V100M16|V100M32"),
        trace.Pod(
            "b", 4000, 1, 1, 1000, frozenset({"V100M16", "V100M32"}), "V100M16|V100M32|V100M32"
        ),
        trace.Pod("c", 4000, 1, 1, 1000, frozenset({"V100M16", "V100M32"}), "V100M16|V100M32"),
        trace.Pod("d", 2000, 1, 1, 500, None),
        trace.Pod("e", 8000, 1, 1, 500, None),
    ]
    wl = trace.target_workload(pods)
    assert wl == [
        ((4000, 1000, 1, ("V100M16", "V100M32")), 2),
        # equal counts: by cpu, then share, then cards, then spec string, all descending
        ((8000, 500, 1, None), 1),
        ((4000, 1000, 1, ("V100M16", "V100M32", "V100M32")), 1),
        ((2000, 500, 1, None), 1),
    ]
