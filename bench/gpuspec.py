"""Build ``gpu_spec`` levels of the openb trace, the way the FGD artifact's ``gpuspec*`` files are.

The trace ships two constrained variants, ``gpuspec05`` and ``gpuspec10`` (5 % and 10 % of GPU
pods name the card models they accept); production runs at about a third (paper section 6.5).
The artifact's files (``gpuspec05`` to ``gpuspec33``) are the ``default`` pods with nothing
changed but ``gpu_spec``, and read as built like this (all checked on the files, see
``doc/source/scheduling.md``):

* each level draws its own pods (a pod constrained at 5 % is constrained at 10 % only by chance);
* whole-card pods are constrained more often than fractional ones (about 1.3 times), every kind
  at the same relative rate at every level;
* the spec depends on the pod's kind: fractional pods get ``T4``, ``P100`` or the five-model
  ``G2|P100|T4|V100M16|V100M32`` only; one-card pods some 17 spec strings, ``T4`` and ``G2`` first;
  multi-card pods models that have hosts with that many cards;
* spec strings are kept verbatim, repeats included (``V100M16|V100M32|V100M32``).

This generator does the same from what the project distributes: it learns, from the shipped
``gpuspec05`` and ``gpuspec10`` files, the relative rate at which each kind of GPU pod (fractional,
one whole card, several cards) is constrained and the spec strings each kind gets; then, for a
level L and a base pod list, it constrains ``round(L x GPU pods)`` pods, split between the kinds
by those rates, drawn uniformly (seeded) among the pods of each kind, each with a spec drawn from
its kind's strings among those the empty cluster can host (a model with a host that has the
pod's cards, CPU and memory). Nothing else of the base file changes, so mixes are the base's
variant family plus ``gpu_spec``. Deterministic: the same inputs, level and seed give the same
bytes (``bench/data/gpuspec-SHA256SUMS`` pins the standard set).

    python -m bench.gpuspec --standard            # the standard set into bench/data/openb/generated
    python -m bench.gpuspec --base openb_pod_list_gpushare40.csv --level 0.34 --out X.csv
"""

from __future__ import annotations

import argparse
import collections
import csv
import hashlib
import os
import random
import sys

from bench import trace

HERE = os.path.dirname(os.path.abspath(__file__))
MANIFEST = os.path.join(HERE, "data", "gpuspec-SHA256SUMS")
#: the shipped constrained variants the spec distribution is learned from.
PROFILE_FILES = ("openb_pod_list_gpuspec05.csv", "openb_pod_list_gpuspec10.csv")
KINDS = ("share", "one", "multi")
#: (output name, base pod list, level): the levels up to and past production's third, and
#: mixes with the sharing-heavy and the multi-card-heavy variants.
STANDARD = (
    ("gen_gpuspec20", "openb_pod_list_default.csv", 0.20),
    ("gen_gpuspec25", "openb_pod_list_default.csv", 0.25),
    ("gen_gpuspec30", "openb_pod_list_default.csv", 0.30),
    ("gen_gpuspec34", "openb_pod_list_default.csv", 0.34),
    ("gen_gpuspec40", "openb_pod_list_default.csv", 0.40),
    ("gen_gpuspec50", "openb_pod_list_default.csv", 0.50),
    ("gen_gpushare40_gpuspec25", "openb_pod_list_gpushare40.csv", 0.25),
    ("gen_gpushare40_gpuspec34", "openb_pod_list_gpushare40.csv", 0.34),
    ("gen_multigpu30_gpuspec25", "openb_pod_list_multigpu30.csv", 0.25),
    ("gen_multigpu30_gpuspec34", "openb_pod_list_multigpu30.csv", 0.34),
)
DEFAULT_SEED = 1


def kind(num_gpu: int, gpu_milli: int) -> str | None:
    """The pod kind the artifact's spec depends on (None for a CPU-only pod)."""
    if not num_gpu:
        return None
    if num_gpu == 1:
        return "share" if gpu_milli < 1000 else "one"
    return "multi"


def _rows(path: str) -> tuple[list[str], list[dict]]:
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def _spec(row: dict) -> str:
    return "|".join(x for x in (row.get("gpu_spec") or "").strip().split("|") if x)


class Profile:
    """Per kind: the relative rate of constrained pods and the spec strings with their counts."""

    def __init__(self, rates: dict[str, float], specs: dict[str, collections.Counter]):
        self.rates = rates
        self.specs = specs

    @classmethod
    def learn(cls, paths) -> Profile:
        pods = collections.Counter()
        constrained = collections.Counter()
        specs = {k: collections.Counter() for k in KINDS}
        for path in paths:
            for row in _rows(path)[1]:
                k = kind(trace._int(row, "num_gpu"), trace._int(row, "gpu_milli"))
                if k is None:
                    continue
                pods[k] += 1
                spec = _spec(row)
                if spec:
                    constrained[k] += 1
                    specs[k][spec] += 1
        if not sum(constrained.values()):
            raise ValueError("no constrained pod in %s" % ", ".join(paths))
        rates = {k: constrained[k] / pods[k] if pods[k] else 0.0 for k in KINDS}
        return cls(rates, specs)


def _feasible(spec: str, row: dict, nodes: list[trace.Node]) -> bool:
    """Whether some node of an allowed model can host the pod when empty."""
    models = set(spec.split("|"))
    need = trace._int(row, "num_gpu")
    cpu, mem = trace._int(row, "cpu_milli"), trace._int(row, "memory_mib")
    return any(
        n.model in models and n.gpus >= need and n.cpu_milli >= cpu and n.memory_mib >= mem
        for n in nodes
    )


def _split(total: int, weights: dict[str, float]) -> dict[str, int]:
    """``total`` split by ``weights``, largest remainders first (ties by kind order)."""
    norm = sum(weights.values())
    exact = {k: total * w / norm if norm else 0.0 for k, w in weights.items()}
    out = {k: int(v) for k, v in exact.items()}
    rest = sorted(weights, key=lambda k: (-(exact[k] - out[k]), KINDS.index(k)))
    for k in rest[: total - sum(out.values())]:
        out[k] += 1
    return out


def generate(base: str, level: float, profile: Profile, nodes, seed: int = DEFAULT_SEED):
    """(field names, rows) of ``base`` with ``gpu_spec`` set on ``round(level x GPU pods)``
    pods (any spec the base had is cleared first)."""
    if not 0.0 <= level <= 1.0:
        raise ValueError("level must be within 0..1, got %r" % (level,))
    fields, rows = _rows(base)
    if "gpu_spec" not in fields:
        fields = fields + ["gpu_spec"]
    rows = sorted(rows, key=lambda r: r["name"])
    by_kind = {k: [] for k in KINDS}
    for row in rows:
        row["gpu_spec"] = ""
        k = kind(trace._int(row, "num_gpu"), trace._int(row, "gpu_milli"))
        if k is not None:
            by_kind[k].append(row)
    n_gpu = sum(len(v) for v in by_kind.values())
    # NOTE: a string seed is hashed (SHA-512) by random.Random, so the draw depends on the base
    # file's name, the level and the seed only, on every platform.
    rng = random.Random("%s:%d:%d" % (os.path.basename(base), round(level * 1000), seed))
    weights = {k: len(by_kind[k]) * profile.rates[k] for k in KINDS}
    want = _split(round(level * n_gpu), weights)
    for k in KINDS:
        pool = by_kind[k]
        picked = rng.sample(pool, min(want[k], len(pool)))
        own = profile.specs[k] or profile.specs["one"]
        for row in picked:
            choices = [(s, c) for s, c in sorted(own.items()) if _feasible(s, row, nodes)]
            if not choices:
                # NOTE: few multi-card pods are constrained in the shipped files; a pod none of
                # its kind's specs can host draws from the one-card strings that can.
                choices = [
                    (s, c)
                    for s, c in sorted(profile.specs["one"].items())
                    if _feasible(s, row, nodes)
                ]
            if choices:
                specs, counts = zip(*choices)
                row["gpu_spec"] = rng.choices(specs, weights=counts)[0]
    return fields, rows


def write(path: str, fields: list[str], rows: list[dict]) -> str:
    """Write the CSV (Unix line ends) and return its SHA-256."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def read_manifest(path: str = MANIFEST) -> dict[str, str]:
    sums = {}
    if os.path.isfile(path):
        with open(path) as f:
            for line in f:
                if line.strip() and not line.startswith("#"):
                    digest, name = line.split()
                    sums[name] = digest
    return sums


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.gpuspec", description=__doc__.split("\n")[0])
    p.add_argument("--trace-dir", default=trace.trace_dir(), help="folder of the openb CSVs")
    p.add_argument("--standard", action="store_true", help="write the standard set")
    p.add_argument("--base", help="base pod list (file name in --trace-dir, or a path)")
    p.add_argument("--level", type=float, help="fraction of GPU pods to constrain, e.g. 0.34")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--out", help="output CSV (with --base)")
    p.add_argument("--dest", help="folder of the standard set (default: TRACE_DIR/generated)")
    args = p.parse_args(argv)
    src = args.trace_dir
    profile_paths = [os.path.join(src, f) for f in PROFILE_FILES]
    nodes_path = os.path.join(src, trace.NODES_FILE)
    try:
        trace.check_exists(nodes_path, *profile_paths)
    except trace.TraceMissing as exc:
        print(exc, file=sys.stderr)
        return 2
    profile = Profile.learn(profile_paths)
    nodes = trace.load_nodes(nodes_path)
    if args.standard:
        dest = args.dest or os.path.join(src, "generated")
        pinned = read_manifest()
        bad = 0
        for name, base, level in STANDARD:
            out = os.path.join(dest, "openb_pod_list_%s.csv" % name)
            digest = write(out, *generate(os.path.join(src, base), level, profile, nodes))
            ok = pinned.get(os.path.basename(out))
            state = "pinned" if ok == digest else ("NOT the pinned bytes" if ok else "not pinned")
            bad += bool(ok) and ok != digest
            print("%s  %s (%s)" % (digest, out, state))
        return 1 if bad else 0
    if not (args.base and args.level is not None and args.out):
        p.error("give --standard, or --base, --level and --out")
    base = args.base if os.path.isfile(args.base) else os.path.join(src, args.base)
    try:
        trace.check_exists(base)
    except trace.TraceMissing as exc:
        print(exc, file=sys.stderr)
        return 2
    digest = write(args.out, *generate(base, args.level, profile, nodes, args.seed))
    print("%s  %s" % (digest, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
