"""The Alibaba GPU trace v2023 ("openb") as the FGD paper replays it.

NOTE: this lives in the service (not only in bench/) because ``pooling-manage
what-if`` replays openb files too; ``bench.trace`` re-exports it, so the
benchmark and the planner read a trace, and build its arrivals, one way.

Reading node and pod CSVs of the trace's schema (the ``multigpu*`` pod files have only the first
five columns), building a ``PoolModel`` of the cluster, turning pods into scheduler ``Request``s
in the comparable mode (``gpu_milli`` sets compute share and memory share alike) and generating
the seeded arrival stream: shuffle, random clones up to 130 % of capacity, per-seed node order.
"""

from __future__ import annotations

import collections
import csv
import dataclasses
import os
import random

from pooling.scheduler import PoolModel
from pooling.scheduler import Request

#: nominal memory of every card in the comparable mode: a request of gpu_milli takes
#: gpu_milli * CARD_MEMORY_MB / 1000 MiB, so memory stays exactly proportional to compute.
CARD_MEMORY_MB = 32000
TUNE = 1.3


@dataclasses.dataclass(frozen=True)
class Node:
    name: str
    cpu_milli: int
    memory_mib: int
    gpus: int
    model: str


@dataclasses.dataclass(frozen=True)
class Pod:
    name: str
    cpu_milli: int
    memory_mib: int
    num_gpu: int
    gpu_milli: int
    gpu_spec: frozenset[str] | None
    #: ``gpu_spec`` as written (non-empty names joined by ``|``, order and repeats kept): the
    #: FGD artifact keys its target workload by this string (see ``target_workload``).
    spec_text: str = ""

    @property
    def gpu_demand(self) -> int:
        """Requested GPU-milli of the pod (cards x share)."""
        return self.num_gpu * self.gpu_milli


class TraceMissing(Exception):
    """A trace file named on the command line is not there."""


def check_exists(*paths: str) -> None:
    """Raise TraceMissing naming every path that is not a file."""
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise TraceMissing("trace file(s) not found: %s" % ", ".join(missing))


def _int(row, key, default=0):
    value = (row.get(key) or "").strip()
    return int(float(value)) if value else default


def load_nodes(path: str) -> list[Node]:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    nodes = [
        Node(
            r["sn"],
            _int(r, "cpu_milli"),
            _int(r, "memory_mib"),
            _int(r, "gpu"),
            (r.get("model") or "").strip() or "unknown",
        )
        for r in rows
    ]
    return [n for n in nodes if n.gpus > 0 or n.cpu_milli > 0]


def load_pods(path: str) -> list[Pod]:
    """Pods of any file of the trace's schema; missing ``gpu_spec`` means any model."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    pods = []
    for r in rows:
        spec = "|".join(x for x in (r.get("gpu_spec") or "").strip().split("|") if x)
        num_gpu = _int(r, "num_gpu")
        pods.append(
            Pod(
                r["name"],
                _int(r, "cpu_milli"),
                _int(r, "memory_mib"),
                num_gpu,
                _int(r, "gpu_milli") if num_gpu else 0,
                frozenset(spec.split("|")) if spec else None,
                spec if num_gpu else "",
            )
        )
    return pods


def capacity_milli(nodes: list[Node]) -> int:
    return sum(n.gpus for n in nodes) * 1000


def to_request(pod: Pod, remote: bool = False) -> Request:
    """The comparable-mode request of a pod (remote: CPU/RAM may run on another host)."""
    locality = "remote-allowed" if remote else "local"
    if not pod.num_gpu:
        return Request(
            0, 0, count=0, cpu_milli=pod.cpu_milli, ram_mb=pod.memory_mib, locality=locality
        )
    return Request(
        pod.gpu_milli,
        pod.gpu_milli * CARD_MEMORY_MB // 1000,
        count=pod.num_gpu,
        models=pod.gpu_spec,
        cpu_milli=pod.cpu_milli,
        ram_mb=pod.memory_mib,
        locality=locality,
    )


def arrival_stream(pods: list[Pod], capacity: int, seed: int, tune: float = TUNE):
    """The FGD protocol's arrivals: (stream of pods, node permutation rng).

    Pods sorted by name are shuffled; clones of uniformly drawn pods (from the name-sorted list)
    are appended until the first draw whose per-card share would push the requested GPU-milli
    above ``tune`` x capacity; a trace already above it is tuned down by dropping random pods.
    """
    rng = random.Random(seed)
    base = sorted(pods, key=lambda p: p.name)
    stream = list(base)
    rng.shuffle(stream)
    return fill_to(stream, base, capacity, rng, tune), rng


def fill_to(stream: list, base: list, capacity: int, rng: random.Random, tune: float = TUNE):
    """``stream`` brought to ``tune`` x ``capacity`` GPU-milli, the FGD protocol's way.

    Items have ``gpu_demand`` (cards x share) and ``gpu_milli`` (share per card). Clones of
    uniformly drawn items of ``base`` are appended until the first draw whose per-card share
    would push the demand above the limit; a stream already above it loses random items.
    """
    stream = list(stream)
    limit = tune * capacity
    requested = sum(p.gpu_demand for p in stream)
    if requested <= limit:
        while base:
            pod = base[rng.randrange(len(base))]
            # NOTE: the stop rule compares the per-card share, not the pod's total (as the
            # paper's simulator does), so a multi-card clone may overshoot slightly.
            if requested + pod.gpu_milli > limit:
                break
            stream.append(pod)
            requested += pod.gpu_demand
    else:
        while requested > limit and stream:
            pod = stream.pop(rng.randrange(len(stream)))
            requested -= pod.gpu_demand
    return stream


def node_order(nodes: list[Node], rng: random.Random) -> list[Node]:
    """Nodes in the per-seed tie-break order: name order renamed by a random permutation."""
    by_name = sorted(nodes, key=lambda n: n.name)
    perm = list(range(len(by_name)))
    rng.shuffle(perm)
    ranked = sorted(range(len(by_name)), key=lambda i: perm[i])
    return [by_name[i] for i in ranked]


def build_model(
    nodes: list[Node], fabric_size: int = 0, replicas: int = 1, topology: bool = False
) -> PoolModel:
    """A model of the cluster, hosts inserted in the given order (= tie-break order).

    ``fabric_size`` > 0 groups that many consecutive hosts per fabric; 0 puts all in one.
    ``topology``: give hosts a link topology (the trace has none): 8-card hosts two NVLink
    islands of 4 cards, one per NUMA node (as DGX-1-class boards); smaller hosts one island.
    """
    model = PoolModel()
    i = 0
    for r in range(replicas):
        for n in nodes:
            name = n.name if replicas == 1 else "%s-r%d" % (n.name, r)
            fabric = "fabric-%d" % (i // fabric_size) if fabric_size else "fabric-0"
            model.add_host(name, fabric=fabric, cpu_milli=n.cpu_milli, ram_mb=n.memory_mib)
            for g in range(n.gpus):
                model.upsert_device(
                    "%s-gpu%d" % (name, g),
                    name,
                    "nvidia",
                    n.model,
                    compute_total=1000,
                    memory_mb=CARD_MEMORY_MB,
                )
            if topology and n.gpus > 1:
                model.set_topology(name, *island_links(name, n.gpus))
            i += 1
    return model


def island_links(host: str, gpus: int):
    """(links, numa) of a host whose cards form NVLink islands of at most 4, one per NUMA node,
    the islands joined only through the inter-socket link."""
    size = 4 if gpus >= 8 else gpus
    uuids = ["%s-gpu%d" % (host, g) for g in range(gpus)]
    links = []
    for a in range(gpus):
        for b in range(a + 1, gpus):
            kind = "nvlink" if a // size == b // size else "system"
            links.append((uuids[a], uuids[b], kind))
    return links, [(u, g // size) for g, u in enumerate(uuids)]


def target_workload(pods: list[Pod]) -> list[tuple[tuple, int]]:
    """FGD's target workload: shapes of the original trace (no clones, CPU-only pods included)
    with their pod counts, in the artifact's order (see ``workload_counts``)."""
    return workload_counts((to_request(p), p.spec_text) for p in pods)


def workload_counts(items) -> list[tuple[tuple, int]]:
    """FGD's target workload of ``(request, spec string)`` pairs, in the artifact's order.

    As the artifact's ``GetTypicalPods``: a shape is (cpu, gpu_milli, num_gpu, gpu_spec string),
    the string verbatim, so ``V100M16|V100M32`` and ``V100M16|V100M32|V100M32`` (both in the
    trace's gpuspec files) are two shapes, each with its own count; shapes are ordered by count,
    then by (cpu, gpu_milli, num_gpu, spec string), all descending, which decides which shapes
    of equal count fall inside the 95 % cut. The spec is carried as a tuple of names in that
    order; the policies read it as a set of allowed models.
    """
    counts: collections.Counter = collections.Counter()
    for req, spec_text in items:
        models = tuple(spec_text.split("|")) if spec_text else None
        counts[(req.cpu_milli, req.compute_milli if req.count else 0, req.count, models)] += 1

    def order(item):
        (cpu, milli, count, models), n = item
        return (n, cpu, milli, count, "|".join(models) if models else "")

    return sorted(counts.items(), key=order, reverse=True)
