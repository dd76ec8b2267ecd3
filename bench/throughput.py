"""Scheduler throughput: decisions per second and per-decision latency, one process, no I/O.

The cluster (the trace's nodes, optionally replicated ``--scale`` times) fills from empty to
full with the default trace's arrival stream at 130 % of its capacity; every ``select`` is timed
(the decision) and, if it succeeded, applied to the model (not timed: the service applies after
its DB commit). Reports overall and per fill decile, accepted and rejected decisions apart.

    python -m bench.throughput --policy binpack,default --scale 1,8 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

from bench import trace
from bench.packing import make_policy
from pooling.scheduler import NoValidHost
from pooling.scheduler import Scheduler


def _pct(sorted_ns: list[int], q: float) -> float:
    if not sorted_ns:
        return float("nan")
    i = min(len(sorted_ns) - 1, int(q * len(sorted_ns)))
    return sorted_ns[i] / 1000.0


def _lat(ns: list[int]) -> dict:
    s = sorted(ns)
    total = sum(s) / 1e9
    return {
        "decisions": len(s),
        "decisions_per_s": len(s) / total if total else None,
        "p50_us": _pct(s, 0.50),
        "p95_us": _pct(s, 0.95),
        "p99_us": _pct(s, 0.99),
        "mean_us": statistics.fmean(s) / 1000 if s else None,
    }


def run(policy: str, nodes, pods, scale: int, seed: int, remote: bool = False) -> dict:
    capacity = trace.capacity_milli(nodes) * scale
    stream, rng = trace.arrival_stream(pods, capacity, seed)
    model = trace.build_model(trace.node_order(nodes, rng), replicas=scale)
    model.set_target_workload(trace.target_workload(pods))
    sched = Scheduler(model, make_policy(policy, seed))
    requests = [trace.to_request(p, remote) for p in stream]
    accepted, rejected, cpu = [], [], []
    deciles: list[list[int]] = [[] for _ in range(10)]
    used = 0
    clock = time.perf_counter_ns
    # NOTE: on a shared machine the wall clock also counts the time the process was not
    # running; the thread's CPU time is reported beside it as the algorithm's own cost.
    cpu_clock = time.thread_time_ns
    for req in requests:
        model.observe(req)
        c0 = cpu_clock()
        t0 = clock()
        try:
            placement = sched.select(req)
        except NoValidHost:
            ns = clock() - t0
            cpu.append(cpu_clock() - c0)
            rejected.append(ns)
        else:
            ns = clock() - t0
            cpu.append(cpu_clock() - c0)
            accepted.append(ns)
            model.apply(placement)
            used += req.count * req.compute_milli
        deciles[min(9, used * 10 // capacity)].append(ns)
    return {
        "policy": policy,
        "gpus": capacity // 1000,
        "hosts": model.n_hosts,
        "all": _lat(accepted + rejected),
        "cpu_time": _lat(cpu),
        "accepted": _lat(accepted),
        "rejected": _lat(rejected),
        "per_fill_decile": [_lat(d) for d in deciles],
    }


def environment() -> dict:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            cwd=trace.REPO,
            check=False,
        ).stdout.strip()
    except OSError:
        commit = None
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if "model name" in ln), cpu)
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "commit": commit,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.throughput", description=__doc__.split("\n")[0]
    )
    p.add_argument("--nodes", default=trace.DEFAULT_NODES)
    p.add_argument("--pods", default=trace.DEFAULT_PODS)
    p.add_argument("--policy", default="binpack,default")
    p.add_argument("--scale", default="1,8", help="cluster replicas, e.g. 1,8 (x8 = 49,696 GPUs)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--repeat", type=int, default=1, help="runs per point; the median is kept")
    p.add_argument("--remote", action="store_true")
    p.add_argument("--json")
    args = p.parse_args(argv)
    try:
        trace.check_exists(args.nodes, args.pods)
    except trace.TraceMissing as exc:
        print(exc, file=sys.stderr)
        return 2
    nodes = trace.load_nodes(args.nodes)
    pods = trace.load_pods(args.pods)
    results = []
    for scale in (int(s) for s in args.scale.split(",")):
        for name in args.policy.split(","):
            runs = [
                run(name, nodes, pods, scale, args.seed, args.remote) for _ in range(args.repeat)
            ]
            runs.sort(key=lambda r: r["all"]["decisions_per_s"])
            res = runs[len(runs) // 2]
            results.append(res)
            a = res["all"]
            print(
                "%s at %d GPUs: %.0f decisions/s (wall), %.0f decisions/s (CPU time), "
                "p50 %.0f us, p99 %.0f us (%d decisions, %d rejected)"
                % (
                    name,
                    res["gpus"],
                    a["decisions_per_s"],
                    res["cpu_time"]["decisions_per_s"],
                    a["p50_us"],
                    a["p99_us"],
                    a["decisions"],
                    res["rejected"]["decisions"],
                ),
                flush=True,
            )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"environment": environment(), "results": results}, f, indent=1)
    print(
        "summary: "
        + " | ".join(
            "%s@%d %.0f/s (CPU %.0f/s) p50 %.0f us p99 %.0f us"
            % (
                r["policy"],
                r["gpus"],
                r["all"]["decisions_per_s"],
                r["cpu_time"]["decisions_per_s"],
                r["all"]["p50_us"],
                r["all"]["p99_us"],
            )
            for r in results
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
