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
import sys
import time

from bench import trace
from bench.baselines import BASELINES
from pooling.planner import replay
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
    """One seeded replay (``pooling.planner.replay``); returns the per-run metrics.

    ``until``: stop once the arrived demand rounds above this % of capacity (the headline
    metric needs only up to 100; the curve then ends there). ``topology``: hosts get NVLink
    islands (``trace.island_links``) and multi-card placements that straddle islands although
    one island could hold them are counted.
    """
    capacity = trace.capacity_milli(nodes)
    stream, rng = trace.arrival_stream(pods, capacity, seed)
    model = trace.build_model(
        trace.node_order(nodes, rng), fabric_size=fabric_size, topology=topology
    )
    model.set_target_workload(trace.target_workload(pods))
    sched = Scheduler(model, make_policy(policy, seed))
    arrivals = [replay.Arrival(trace.to_request(pod, remote), pod.gpu_demand) for pod in stream]
    straddled = [0]

    def on_placed(model, placement):
        if len(placement.slices) > 1:
            straddled[0] += _straddles(model, placement)

    run = replay.replay(
        model,
        arrivals,
        sched,
        capacity,
        possible=_possible_when_empty(nodes),
        progress=progress,
        until=until,
        on_placed=on_placed if topology else None,
    )
    del run["at_full"]
    return dict(run, seed=seed, straddling_placements=straddled[0])


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


def _possible_when_empty(nodes):
    """Whether a request fits the empty cluster (else its failure is not fragmentation)."""
    key = id(nodes)
    if key not in _EMPTY:
        _EMPTY.clear()
        _EMPTY[key] = replay.possible_on(lambda: trace.build_model(nodes))
    return _EMPTY[key]


def summarise(runs: list[dict]) -> dict:
    return {
        "unallocated_pct_at_100": replay.stats([r["unallocated_pct_at_100"] for r in runs]),
        "unallocated_gpus_at_100": None,
        "alloc_pct_at_first_failure": replay.stats([r["alloc_pct_at_first_failure"] for r in runs]),
        "arrived_pct_at_first_failure": replay.stats(
            [r["arrived_pct_at_first_failure"] for r in runs]
        ),
        "reserved_pct_at_100": replay.stats([r["reserved_pct_at_100"] for r in runs]),
        "failures": {k: sum(r["failures"][k] for r in runs) for k in runs[0]["failures"]},
        "remote_placements": replay.stats([r["remote_placements"] for r in runs]),
        "straddling_placements": replay.stats([r["straddling_placements"] for r in runs]),
        "seeds": [r["seed"] for r in runs],
        "curve": replay.mean_curve(runs),
    }


def plot(result: dict, path: str, title: str) -> None:
    replay.plot(result["policies"], path, title)


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
                "; %.1f avoidable island straddles" % r["straddling_placements"]["mean"]
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
