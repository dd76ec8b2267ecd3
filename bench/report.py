"""Turn ``bench.packing`` JSON files into the Markdown results table of the scheduling doc.

python -m bench.report results/*.json
"""

from __future__ import annotations

import json
import os
import sys

#: the paper's unallocated GPU % at arrived = 100 % (reference section 2.4), by trace.
PUBLISHED = {
    "default": {
        "random": 13.70,
        "dotprod": 9.38,
        "gpuclustering": 8.35,
        "gpupacking": 8.22,
        "bestfit": 7.14,
        "fgd": 4.77,
    },
    "gpushare40": {"fgd": 6.04, "bestfit": 8.56},
    "multigpu20": {"fgd": 4.47, "bestfit": 6.27},
    "multigpu30": {"fgd": 3.64, "bestfit": 5.43},
    "gpuspec10": {"fgd": 5.34, "bestfit": 6.90},
    "cpu050": {"fgd": 5.00, "bestfit": 6.44},
    "cpu100": {"fgd": 4.79, "bestfit": 6.74},
    "cpu200": {"fgd": 5.18, "bestfit": 7.85},
}


def trace_name(path: str) -> str:
    base = os.path.basename(path).rsplit(".", 1)[0]
    return base.replace("openb_pod_list_", "")


def rows(paths):
    for path in paths:
        with open(path) as f:
            data = json.load(f)
        trace = trace_name(data["pods"]) + (" (remote)" if data.get("remote") else "")
        for name, res in data["policies"].items():
            u = res["unallocated_pct_at_100"]
            ff = res["alloc_pct_at_first_failure"]["mean"]
            paper = PUBLISHED.get(trace, {}).get(name)
            yield (trace, name, u["mean"], u["sd"], len(u["per_seed"]), ff, paper)


def main(argv=None) -> int:
    paths = argv if argv is not None else sys.argv[1:]
    print(
        "| trace | policy | unallocated % at arrived 100 (mean ± sd) | seeds | "
        "allocated % at first failure | paper |"
    )
    print("|---|---|---|---|---|---|")
    for trace, name, mean, sd, n, ff, paper in rows(paths):
        print(
            "| %s | %s | %.2f ± %.2f | %d | %s | %s |"
            % (
                trace,
                name,
                mean,
                sd,
                n,
                "n/a" if ff is None else "%.2f" % ff,
                "" if paper is None else "%.2f" % paper,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
