"""Every trace variant in one sweep: policies x variants x seeds, one JSON and a Markdown table.

The shipped variants (``default``, ``cpu*``, ``gpushare*``, ``gpuspec*``, ``multigpu*``) and the
generated ``gpu_spec`` levels and mixes of ``python -m bench.gpuspec --standard``; each run is
``bench.packing.run_one`` (the product's scheduler), by default stopped at arrived = 100 %, which
is all the headline metric needs.

    python -m bench.variants --policy default,default-online,fgd --seeds 42-51 \\
        --json bench/results/variants-10seeds.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

from bench import gpuspec
from bench import packing
from bench import trace

SHIPPED = (
    "default",
    "cpu0",
    "cpu037",
    "cpu050",
    "cpu072",
    "cpu100",
    "cpu200",
    "gpushare20",
    "gpushare40",
    "gpuspec05",
    "gpuspec10",
    "multigpu20",
    "multigpu30",
)
GENERATED = tuple(name for name, _, _ in gpuspec.STANDARD)


def variant_path(name: str, trace_dir: str) -> str:
    if name.startswith("gen_"):
        return os.path.join(trace_dir, "generated", "openb_pod_list_%s.csv" % name)
    return os.path.join(trace_dir, "openb_pod_list_%s.csv" % name)


def table(result: dict, policies: list[str]) -> str:
    """Markdown: mean ± sd per policy and variant, and each policy's margin over the last one."""
    ref = policies[-1]
    head = "| variant | " + " | ".join(policies)
    head += " | " + " | ".join("%s − %s" % (p, ref) for p in policies[:-1]) + " |"
    lines = [head, "|" + "---|" * (1 + 2 * len(policies) - 1)]
    for name, res in result["variants"].items():
        means = {p: res[p]["mean"] for p in policies}
        cells = ["%.2f ± %.2f" % (means[p], res[p]["sd"]) for p in policies]
        cells += ["%+.2f" % (means[p] - means[ref]) for p in policies[:-1]]
        lines.append("| %s | %s |" % (name, " | ".join(cells)))
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.variants", description=__doc__.split("\n")[0])
    p.add_argument("--policy", default="default,default-online,fgd")
    p.add_argument("--seeds", default="42-51")
    p.add_argument(
        "--variants",
        default="all",
        help="comma-separated names (e.g. default,gpuspec10,gen_gpuspec34), 'shipped', "
        "'generated' or 'all'",
    )
    p.add_argument("--trace-dir", default=trace.trace_dir())
    p.add_argument("--until", type=float, default=100.0, help="see bench.packing --until")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args(argv)
    names = {"all": SHIPPED + GENERATED, "shipped": SHIPPED, "generated": GENERATED}.get(
        args.variants, tuple(v for v in args.variants.split(",") if v)
    )
    policies = [x for x in args.policy.split(",") if x]
    seeds = packing.parse_seeds(args.seeds)
    nodes_path = os.path.join(args.trace_dir, trace.NODES_FILE)
    paths = {n: variant_path(n, args.trace_dir) for n in names}
    try:
        trace.check_exists(nodes_path, *paths.values())
    except trace.TraceMissing as exc:
        print(exc, "\n(generated variants: python -m bench.gpuspec --standard)", file=sys.stderr)
        return 2
    nodes = trace.load_nodes(nodes_path)
    result = {"seeds": seeds, "until": args.until, "policies": policies, "variants": {}}
    for name in names:
        pods = trace.load_pods(paths[name])
        res = {"pods_sha256": packing._sha256(paths[name])}
        for pol in policies:
            start = time.perf_counter()
            vals = [
                packing.run_one(pol, nodes, pods, s, until=args.until)["unallocated_pct_at_100"]
                for s in seeds
            ]
            res[pol] = {
                "mean": statistics.fmean(vals),
                "sd": statistics.stdev(vals) if len(vals) > 1 else 0.0,
                "per_seed": vals,
            }
            print(
                "%s %s: %.2f ± %.2f %% (%.0f s)"
                % (name, pol, res[pol]["mean"], res[pol]["sd"], time.perf_counter() - start),
                flush=True,
            )
        result["variants"][name] = res
        if args.json:
            with open(args.json, "w") as f:
                json.dump(result, f, indent=1)
    print(table(result, policies))
    return 0


if __name__ == "__main__":
    sys.exit(main())
