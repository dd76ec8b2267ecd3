"""Packing benchmark: replay the Alibaba GPU trace through pooling's scheduler, FGD's protocol.

For each policy and seed: the seeded arrival stream (shuffle, clones up to 130 % of capacity),
one request at a time through ``pooling.scheduler.Scheduler`` (the product code), no departures,
no retries. Reports the unallocated GPU % at arrived = 100 % (mean +- sd over seeds), the
allocation at the first failed request and the allocation curve; writes JSON and a PNG.

    python -m bench.packing --policy fgd,default --seeds 42-51 --json out.json --plot out.png
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import math
import statistics
import sys
import time

from bench import trace
from bench.baselines import BASELINES
from pooling.scheduler import NoValidHost
from pooling.scheduler import Scheduler
from pooling.scheduler import load_policy
from pooling.scheduler import topology as topology_mod
from pooling.scheduler.policies.fgd import FgdPolicy

EXTRA = {"fgd-online": lambda seed: FgdPolicy(source="observed")}


def make_policy(name: str, seed: int):
    """A product plugin by name, else a calibration baseline of the benchmark.

    ``NAME[key=value;...]`` passes options to the policy (e.g. ``fgd[scale=2000]``).
    """
    if name.endswith("]") and "[" in name:
        name, _, opts = name[:-1].partition("[")
        options = dict(kv.split("=", 1) for kv in opts.split(";") if kv)
        options = {
            k: (v.lower() in ("1", "true", "yes"))
            if v.lower() in ("1", "0", "true", "false", "yes", "no")
            else v
            for k, v in options.items()
        }
        if name == "fgd-online":
            return FgdPolicy(source="observed", **options)
        return load_policy(name, **options)
    if name in BASELINES:
        cls = BASELINES[name]
        return cls(seed=seed) if name == "random" else cls()
    if name in EXTRA:
        return EXTRA[name](seed)
    return load_policy(name)


def parse_seeds(text: str) -> list[int]:
    seeds = []
    for part in text.split(","):
        if "-" in part:
            lo, hi = part.split("-")
            seeds.extend(range(int(lo), int(hi) + 1))
        elif part:
            seeds.append(int(part))
    return seeds


def _round(x: float, nd: int = 0) -> float:
    """Round half away from zero (Go's math.Round), not Python's banker's rounding."""
    f = 10**nd
    return math.floor(x * f + 0.5) / f


def run_one(
    policy: str,
    nodes,
    pods,
    seed: int,
    remote: bool = False,
    fabric_size: int = 0,
    progress=None,
    until: float | None = None,
    topology: bool = False,
) -> dict:
    """One seeded replay; returns the per-run metrics.

    ``until``: stop once the arrived demand rounds above this % of capacity (the headline
    metric needs only up to 100; the curve then ends there).
    """
    capacity = trace.capacity_milli(nodes)
    stream, rng = trace.arrival_stream(pods, capacity, seed)
    model = trace.build_model(
        trace.node_order(nodes, rng), fabric_size=fabric_size, topology=topology
    )
    model.set_target_workload(trace.target_workload(pods))
    sched = Scheduler(model, make_policy(policy, seed))
    possible = {}
    arrived = used = reserved = 0
    unit = capacity / 100  # GPU-milli per percent of capacity
    reserved_at_100 = None
    last_below = reserved_below = 0.0
    buckets: dict[int, list[float]] = {}
    first_failure = None
    failures = {"fragmentation": 0, "impossible": 0}
    remote_placed = 0
    straddled = 0
    for n, pod in enumerate(stream):
        req = trace.to_request(pod, remote)
        model.observe(req)
        arrived += pod.gpu_demand
        try:
            placement = sched.select(req)
        except NoValidHost:
            if req not in possible:
                possible[req] = _possible_when_empty(nodes, req)
            if possible[req]:
                failures["fragmentation"] += 1
                if first_failure is None:
                    first_failure = (used / capacity * 100, arrived / capacity * 100)
            else:
                failures["impossible"] += 1
        else:
            model.apply(placement)
            used += pod.gpu_demand
            reserved += sum(s.compute_milli for s in placement.slices)
            remote_placed += placement.remote
            if len(placement.slices) > 1 and topology:
                straddled += _straddles(model, placement)
        bucket = int(_round(arrived / unit))
        if until is not None and bucket > until:
            break
        buckets.setdefault(bucket, []).append(_round(used / unit, 2))
        if bucket == 100:
            reserved_at_100 = reserved
        if arrived <= capacity:
            # NOTE: on small clusters no arrival may land in the 100 % bucket; then the last
            # allocation at or below 100 % arrived stands for it.
            last_below = _round(used / unit, 2)
            reserved_below = reserved
        if progress and n % 2000 == 0:
            progress(n, len(stream))
    curve = [[b, statistics.fmean(v)] for b, v in sorted(buckets.items())]
    at100 = statistics.fmean(buckets[100]) if 100 in buckets else last_below
    if reserved_at_100 is None:
        reserved_at_100 = reserved_below
    return {
        "seed": seed,
        "unallocated_pct_at_100": 100.0 - at100,
        "alloc_pct_at_first_failure": first_failure[0] if first_failure else None,
        "arrived_pct_at_first_failure": first_failure[1] if first_failure else None,
        "failures": failures,
        "reserved_pct_at_100": reserved_at_100 / capacity * 100,
        "remote_placements": remote_placed,
        "straddling_placements": straddled,
        "decisions": len(stream),
        "curve": curve,
    }


def _straddles(model, placement) -> bool:
    """Whether a multi-card placement spans two NVLink islands although one island of its host
    is big enough for it (an 8-card vGPU on two islands of 4 cannot do otherwise)."""
    devs = [model.dev_index[s.device_uuid] for s in placement.slices]
    host = model.host_devices[model.host_index[placement.host]]
    sizes = collections.Counter(model.dev_links[i][0] for i in host if model.dev_links[i])
    if not sizes or max(sizes.values()) < len(devs):
        return False
    return topology_mod.straddles(model.dev_links, devs)


_EMPTY: dict = {}


def _possible_when_empty(nodes, req) -> bool:
    """Whether the request fits the empty cluster (else its failure is not fragmentation)."""
    key = id(nodes)
    if key not in _EMPTY:
        _EMPTY.clear()
        _EMPTY[key] = Scheduler(trace.build_model(nodes), "binpack")
    try:
        _EMPTY[key].select(req)
    except NoValidHost:
        return False
    return True


def _stats(values):
    values = [v for v in values if v is not None]
    if not values:
        return {"mean": None, "sd": None, "per_seed": []}
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"mean": statistics.fmean(values), "sd": sd, "per_seed": values}


def summarise(runs: list[dict]) -> dict:
    curves = {}
    for r in runs:
        for b, v in r["curve"]:
            curves.setdefault(b, []).append(v)
    return {
        "unallocated_pct_at_100": _stats([r["unallocated_pct_at_100"] for r in runs]),
        "unallocated_gpus_at_100": None,
        "alloc_pct_at_first_failure": _stats([r["alloc_pct_at_first_failure"] for r in runs]),
        "arrived_pct_at_first_failure": _stats([r["arrived_pct_at_first_failure"] for r in runs]),
        "reserved_pct_at_100": _stats([r["reserved_pct_at_100"] for r in runs]),
        "failures": {k: sum(r["failures"][k] for r in runs) for k in runs[0]["failures"]},
        "remote_placements": _stats([r["remote_placements"] for r in runs]),
        "straddling_placements": _stats([r["straddling_placements"] for r in runs]),
        "seeds": [r["seed"] for r in runs],
        "curve": [[b, statistics.fmean(v)] for b, v in sorted(curves.items())],
    }


def plot(result: dict, path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for name, res in result["policies"].items():
        xs, ys = zip(*res["curve"])
        mean = res["unallocated_pct_at_100"]["mean"]
        ax.plot(xs, ys, label="%s (%.2f %% unallocated at 100)" % (name, mean))
    ax.plot([0, 130], [0, 130], color="grey", linestyle=":", linewidth=1, label="ideal")
    ax.set_xlim(75, 130)
    ax.set_ylim(80, 100)
    ax.axvline(100, color="grey", linewidth=0.5)
    ax.set_xlabel("arrived GPU demand (% of capacity)")
    ax.set_ylabel("allocated GPU (% of capacity)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.packing", description=__doc__.split("\n")[0])
    p.add_argument("--nodes", default=trace.DEFAULT_NODES, help="node list CSV")
    p.add_argument("--pods", default=trace.DEFAULT_PODS, help="pod list CSV")
    p.add_argument(
        "--policy",
        default="default",
        help="NAME[,NAME...]: plugins (%s) or "
        "baselines (%s)"
        % (
            "spread, binpack, passthrough, fgd, default, default-online",
            ", ".join(list(BASELINES) + list(EXTRA)),
        ),
    )
    p.add_argument("--seeds", default="42-51", help="e.g. 42-51 or 42,43")
    p.add_argument(
        "--remote",
        action="store_true",
        help="remote relaxation: CPU/RAM may run on another host of the fabric",
    )
    p.add_argument(
        "--fabric-size",
        type=int,
        default=0,
        help="hosts per fabric in --remote mode (0: one fabric)",
    )
    p.add_argument(
        "--until",
        type=float,
        help="stop each replay once arrived demand rounds above this %% of capacity "
        "(e.g. 100: the headline metric at a quarter less work; the curve ends there)",
    )
    p.add_argument(
        "--topology",
        action="store_true",
        help="give hosts NVLink islands (8-card hosts: two of 4) and count multi-card "
        "placements that straddle islands",
    )
    p.add_argument("--json", help="write the results here")
    p.add_argument("--plot", help="write the allocation curves here (PNG)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = p.parse_args(argv)
    try:
        trace.check_exists(args.nodes, args.pods)
    except trace.TraceMissing as exc:
        print(exc, file=sys.stderr)
        return 2
    nodes = trace.load_nodes(args.nodes)
    pods = trace.load_pods(args.pods)
    seeds = parse_seeds(args.seeds)
    gpus = trace.capacity_milli(nodes) // 1000
    result = {
        "nodes": args.nodes,
        "pods": args.pods,
        "gpus": gpus,
        "seeds": seeds,
        "remote": args.remote,
        "until": args.until,
        "topology": args.topology,
        "pods_sha256": _sha256(args.pods),
        "policies": {},
    }
    for name in args.policy.split(","):
        runs = []
        for seed in seeds:
            start = time.perf_counter()

            def progress(n, total, name=name, seed=seed, start=start):
                if not args.quiet:
                    rate = n / max(time.perf_counter() - start, 1e-9)
                    print(
                        "  %s seed %d: %d/%d (%.0f/s)" % (name, seed, n, total, rate),
                        file=sys.stderr,
                        flush=True,
                    )

            run = run_one(
                name,
                nodes,
                pods,
                seed,
                args.remote,
                args.fabric_size,
                progress,
                args.until,
                args.topology,
            )
            runs.append(run)
            print(
                "%s seed %d: unallocated %.2f %% at arrived 100 %%, first failure at %s %% "
                "allocated (%.1f s)"
                % (
                    name,
                    seed,
                    run["unallocated_pct_at_100"],
                    _fmt(run["alloc_pct_at_first_failure"]),
                    time.perf_counter() - start,
                ),
                flush=True,
            )
        res = summarise(runs)
        res["unallocated_gpus_at_100"] = res["unallocated_pct_at_100"]["mean"] * gpus / 100
        result["policies"][name] = res
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    if args.plot:
        plot(result, args.plot, "%s on %s GPUs" % (args.pods.rsplit("/", 1)[-1], gpus))
    print(
        "summary: "
        + " | ".join(
            "%s %.2f ± %.2f %% unallocated (first failure at %s %%%s)"
            % (
                name,
                r["unallocated_pct_at_100"]["mean"],
                r["unallocated_pct_at_100"]["sd"],
                _fmt(r["alloc_pct_at_first_failure"]["mean"]),
                "; %.1f avoidable island straddles"
                % r["straddling_placements"]["mean"]
                if args.topology
                else "",
            )
            for name, r in result["policies"].items()
        )
    )
    return 0


def _sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _fmt(value) -> str:
    return "n/a" if value is None else "%.2f" % value


if __name__ == "__main__":
    sys.exit(main())
