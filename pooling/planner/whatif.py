"""What-if planning: replay a pool's demand against other policies and other hardware.

The demand is the pool's own record (every vGPU ever asked for, in arrival order, holds of the
Cyborg bridge left out) or an Alibaba openb pod file. The hardware is the pool's hosts and
healthy cards, N times them, a hypothetical set of cards, or an openb node file. Each policy of
``pooling.schedulers`` replays the demand with the product scheduler (``pooling.planner.replay``)
on the FGD paper's protocol: the demand is brought to 130 % of capacity with seeded clones of
itself, host order is a per-seed permutation, and the figures are averaged over seeds. An openb
pod and node file therefore give exactly ``bench.packing``'s figures for the same policy and seed.

Reported per policy: unallocated GPU % when the arrived demand reaches 100 % of capacity, how
many more vGPUs of each common shape would still fit at that moment, failures, and the
fragmentation curve (allocated % against arrived %).
"""

from __future__ import annotations

import collections
import dataclasses
import os
import random
import re

from pooling.planner import openb
from pooling.planner import replay
from pooling.scheduler import PoolModel
from pooling.scheduler import Request
from pooling.scheduler import Scheduler
from pooling.scheduler import load_policy

COMMON_SHAPES = 3
#: isolation levels a hypothetical card of a model the pool has never seen is assumed to offer
#: (hard partitions need the model's partition shapes, which only a real card reports).
UNKNOWN_ISOLATION = frozenset({"none", "soft", "firm"})


class PlanError(ValueError):
    """The what-if was asked something it cannot do; the message says what."""


@dataclasses.dataclass(frozen=True)
class Card:
    host: str
    vendor: str
    model: str
    compute_total: int
    memory_mb: int
    isolation: frozenset[str]


@dataclasses.dataclass(frozen=True)
class HostSpec:
    name: str
    fabric: str | None
    cpu_milli: int = 0
    ram_mb: int = 0


@dataclasses.dataclass(frozen=True)
class Hardware:
    """A set of hosts and cards to replay on, and what it is, in words."""

    hosts: tuple[HostSpec, ...]
    cards: tuple[Card, ...]
    description: str

    @property
    def capacity_milli(self) -> int:
        return sum(c.compute_total for c in self.cards)

    def models(self) -> dict[str, int]:
        return dict(collections.Counter(c.model for c in self.cards))

    def build(self, rng: random.Random) -> PoolModel:
        """An empty model, hosts in the per-seed tie-break order (``openb.node_order``)."""
        model = PoolModel()
        by_host = collections.defaultdict(list)
        for card in self.cards:
            by_host[card.host].append(card)
        for host in openb.node_order(list(self.hosts), rng):
            model.add_host(
                host.name, fabric=host.fabric, cpu_milli=host.cpu_milli, ram_mb=host.ram_mb
            )
            for i, card in enumerate(by_host[host.name]):
                model.upsert_device(
                    "%s-gpu%d" % (host.name, i),
                    host.name,
                    card.vendor,
                    card.model,
                    compute_total=card.compute_total,
                    memory_mb=card.memory_mb,
                    isolation=card.isolation,
                )
        return model


@dataclasses.dataclass(frozen=True)
class Want:
    """One arrival of the demand (a recorded vGPU or an openb pod) as ``openb.fill_to`` sees it."""

    name: str
    request: Request
    gpu_milli: int
    #: the allowed card models as written (``openb.Pod.spec_text``); FGD's target workload
    #: keys by it, as the benchmark does (``openb.workload_counts``).
    spec_text: str = ""

    @property
    def gpu_demand(self) -> int:
        return self.request.count * self.gpu_milli


@dataclasses.dataclass(frozen=True)
class Demand:
    """The arrivals to replay; ``ordered`` keeps their order (else the FGD shuffle)."""

    wants: tuple[Want, ...]
    ordered: bool
    description: str

    def common_shapes(self, n: int = COMMON_SHAPES) -> list[tuple[int, int, int]]:
        """The ``n`` most asked (compute_milli, memory_mb, count) shapes, most asked first."""
        counts = collections.Counter(
            (w.request.compute_milli, w.request.memory_mb, w.request.count)
            for w in self.wants
            if w.request.count
        )
        return [s for s, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]

    def target_workload(self):
        """FGD's target workload: the demand's shapes with their counts (no clones), keyed and
        ordered as the benchmark's (``openb.workload_counts``)."""
        return openb.workload_counts((w.request, w.spec_text) for w in self.wants)

    def stream(self, capacity: int, rng: random.Random) -> list[Want]:
        base = sorted(self.wants, key=lambda w: w.name)
        if self.ordered:
            stream = list(self.wants)
        else:
            stream = list(base)
            rng.shuffle(stream)
        return openb.fill_to(stream, base, capacity, rng)


# -- demand --------------------------------------------------------------------------------------
def demand_from_vgpus(vgpus: list[dict], description: str) -> Demand:
    """The demand of recorded vGPUs (dicts as ``pooling.objects.vgpu`` returns them).

    Where a vGPU ran is not part of the demand: its consumer host may not exist in the
    hardware replayed on, so ``remote-required`` becomes ``remote-allowed`` and no consumer host
    is kept.
    """
    wants = []
    for i, v in enumerate(vgpus):
        count = v["count"] or 1
        compute = v["compute_milli"] if count == 1 else 1000
        req = Request(
            compute_milli=compute,
            memory_mb=v["memory_mb"],
            count=count,
            models=frozenset(v["models"]) if v.get("models") else None,
            isolation=v.get("isolation"),
            locality="remote-allowed" if v["locality"] == "remote-required" else v["locality"],
        )
        # NOTE: names sort in arrival order, so the clone draws are reproducible.
        spec = "|".join(v["models"]) if v.get("models") else ""
        wants.append(Want("%09d" % i, req, compute, spec))
    if not wants:
        raise PlanError("no demand to replay: %s has no vGPU on record" % description)
    return Demand(tuple(wants), ordered=True, description=description)


def demand_from_openb(path: str, any_model: bool = False) -> Demand:
    openb.check_exists(path)
    wants = []
    for pod in openb.load_pods(path):
        req = openb.to_request(pod)
        if any_model and req.models is not None:
            req = dataclasses.replace(req, models=None)
        wants.append(Want(pod.name, req, pod.gpu_milli, "" if any_model else pod.spec_text))
    if not wants:
        raise PlanError("no demand to replay: %s has no pod" % path)
    return Demand(tuple(wants), ordered=False,
                  description="openb pods of %s" % os.path.basename(path))


# -- hardware ------------------------------------------------------------------------------------
def hardware_from_pool(hosts: list[dict], devices: list[dict], description: str) -> Hardware:
    """The pool's up hosts and their healthy cards (dicts as ``pooling.objects`` returns them)."""
    up = {h["name"]: h for h in hosts if h["state"] == "up"}
    cards = tuple(
        Card(
            d["host"],
            d["vendor"],
            d["model"],
            d["compute_total"],
            d["memory_mb"],
            frozenset(d["isolation"]) or frozenset({"none"}),
        )
        for d in devices
        if d["host"] in up and d["health"] == "healthy"
    )
    specs = tuple(
        HostSpec(h["name"], h["fabric"], h.get("cpu_milli") or 0, h.get("ram_mb") or 0)
        for h in up.values()
    )
    if not cards:
        raise PlanError("%s has no healthy card on an up host to replay on" % description)
    return Hardware(specs, cards, description)


def hardware_from_openb(path: str) -> Hardware:
    openb.check_exists(path)
    hosts, cards = [], []
    for node in openb.load_nodes(path):
        hosts.append(HostSpec(node.name, "fabric-0", node.cpu_milli, node.memory_mib))
        cards += [
            Card(node.name, "nvidia", node.model, 1000, openb.CARD_MEMORY_MB, frozenset({"none"}))
        ] * node.gpus
    return Hardware(tuple(hosts), tuple(cards), "openb nodes of %s" % os.path.basename(path))


def scaled(hardware: Hardware, times: int) -> Hardware:
    """``times`` copies of every host and its cards (copies named ``<host>-r<k>``)."""
    if times < 1:
        raise PlanError("--scale must be a whole number of at least 1, not %r" % times)
    if times == 1:
        return hardware
    hosts, cards = [], []
    for k in range(times):
        rename = (lambda n, k=k: n) if k == 0 else (lambda n, k=k: "%s-r%d" % (n, k))
        hosts += [dataclasses.replace(h, name=rename(h.name)) for h in hardware.hosts]
        cards += [dataclasses.replace(c, host=rename(c.host)) for c in hardware.cards]
    return Hardware(tuple(hosts), tuple(cards), "%s x%d" % (hardware.description, times))


_CARDS = re.compile(r"^\s*(?P<model>[^=,]+?)\s*=\s*(?P<cards>\d+)\s*x\s*(?P<hosts>\d+)"
                    r"(?:\s*@\s*(?P<memory>\d+))?\s*$")


def hardware_from_cards(spec: str, known: Hardware | None = None) -> Hardware:
    """Hypothetical hosts from ``MODEL=CARDSxHOSTS[@MEMORY_MB],...``.

    ``A100-SXM4-80GB=8x4`` is four hosts of eight such cards; a model the pool has (``known``)
    takes its memory, vendor and isolation from the pool's cards, another needs ``@MEMORY_MB``.
    """
    seen = {c.model: c for c in (known.cards if known else ())}
    hosts, cards = [], []
    for part in spec.split(","):
        m = _CARDS.match(part)
        if not m:
            raise PlanError(
                "bad --cards entry %r: expected MODEL=CARDSxHOSTS[@MEMORY_MB], "
                "e.g. A100-SXM4-80GB=8x4 or X1=4x2@65536" % part
            )
        model, per_host, n_hosts = m["model"], int(m["cards"]), int(m["hosts"])
        if per_host < 1 or n_hosts < 1:
            raise PlanError("bad --cards entry %r: cards and hosts must be at least 1" % part)
        like = seen.get(model)
        if m["memory"]:
            memory = int(m["memory"])
        elif like is not None:
            memory = like.memory_mb
        else:
            raise PlanError(
                "the pool has no card of model %r: give its memory, e.g. %s=%dx%d@81920"
                % (model, model, per_host, n_hosts)
            )
        vendor = like.vendor if like else "unknown"
        isolation = like.isolation if like else UNKNOWN_ISOLATION
        slug = re.sub(r"[^A-Za-z0-9]+", "-", model).strip("-").lower()
        for h in range(n_hosts):
            name = "%s-%d" % (slug, h)
            hosts.append(HostSpec(name, "fabric-0"))
            cards += [Card(name, vendor, model, 1000, memory, isolation)] * per_host
    return Hardware(tuple(hosts), tuple(cards), "hypothetical cards %s" % spec.strip())


# -- the plan ------------------------------------------------------------------------------------
def parse_seeds(text: str) -> list[int]:
    seeds = []
    try:
        for part in str(text).split(","):
            if "-" in part:
                lo, hi = part.split("-")
                seeds.extend(range(int(lo), int(hi) + 1))
            elif part.strip():
                seeds.append(int(part))
    except ValueError:
        raise PlanError("bad --seeds %r: expected e.g. 42-44 or 42,50" % text) from None
    if not seeds:
        raise PlanError("--seeds names no seed")
    return seeds


def shape_label(shape: tuple[int, int, int]) -> str:
    compute, memory, count = shape
    if count > 1:
        return "%dx card %d MiB" % (count, memory)
    return "%g%% %d MiB" % (compute / 10, memory)


def run_policy(name: str, demand: Demand, hardware: Hardware, seed: int, shapes) -> dict:
    """One seeded replay of ``demand`` on ``hardware`` with policy ``name``."""
    rng = random.Random(seed)
    capacity = hardware.capacity_milli
    stream = demand.stream(capacity, rng)
    # NOTE: the host order is drawn after the stream, from the same generator, as
    # bench.packing does (so an openb file gives the benchmark's figures).
    model = hardware.build(rng)
    model.set_target_workload(demand.target_workload())
    sched = Scheduler(model, load_policy(name))
    probes = [Request(c, m, count=n) for c, m, n in shapes]

    def at_full(model, sched):
        return [replay.headroom(model, sched, p) for p in probes]

    arrivals = [replay.Arrival(w.request, w.gpu_demand) for w in stream]
    possible = replay.possible_on(lambda: hardware.build(random.Random(seed)))
    run = replay.replay(model, arrivals, sched, capacity, possible=possible, at_full=at_full)
    return dict(run, seed=seed)


def plan(demand: Demand, hardware: Hardware, policies: list[str], seeds: list[int]) -> dict:
    """Replay ``demand`` on ``hardware`` with each policy and seed; the report as a dict."""
    shapes = demand.common_shapes()
    result = {
        "demand": demand.description,
        "arrivals_recorded": len(demand.wants),
        "hardware": hardware.description,
        "cards": hardware.models(),
        "capacity_gpus": hardware.capacity_milli / 1000,
        "seeds": seeds,
        "common_shapes": [
            {"compute_percent": c / 10, "memory_mb": m, "count": n, "label": shape_label((c, m, n))}
            for c, m, n in shapes
        ],
        "policies": {},
    }
    for name in policies:
        load_policy(name)  # an unknown name fails here, listing the known ones
        runs = [run_policy(name, demand, hardware, seed, shapes) for seed in seeds]
        result["policies"][name] = {
            "unallocated_pct_at_100": replay.stats([r["unallocated_pct_at_100"] for r in runs]),
            "alloc_pct_at_first_failure": replay.stats(
                [r["alloc_pct_at_first_failure"] for r in runs]
            ),
            "failures": {k: sum(r["failures"][k] for r in runs) for k in runs[0]["failures"]},
            "more_that_fit": {
                shape_label(s): replay.stats([r["at_full"][i] for r in runs])["mean"]
                for i, s in enumerate(shapes)
            },
            "curve": replay.mean_curve(runs),
        }
    return result


def table(result: dict) -> str:
    """The report as text for a terminal."""
    lines = [
        "What-if: %s (%d recorded), replayed to 130 %% of capacity" % (
            result["demand"], result["arrivals_recorded"]),
        "on %s: %g GPUs (%s); seeds %s" % (
            result["hardware"], result["capacity_gpus"],
            ", ".join("%s x%d" % kv for kv in sorted(result["cards"].items())),
            ",".join(str(s) for s in result["seeds"])),
        "",
    ]
    shapes = [s["label"] for s in result["common_shapes"]]
    head = ["policy", "unallocated at 100%", "first failure at"] + [
        "+%s" % s for s in shapes] + ["fragmentation/impossible failures"]
    rows = [head]
    for name, res in result["policies"].items():
        un = res["unallocated_pct_at_100"]
        ff = res["alloc_pct_at_first_failure"]["mean"]
        rows.append(
            [name, "%.2f ± %.2f %%" % (un["mean"], un["sd"]),
             "n/a" if ff is None else "%.2f %%" % ff]
            + ["%.1f" % res["more_that_fit"][s] for s in shapes]
            + ["%d/%d" % (res["failures"]["fragmentation"], res["failures"]["impossible"])]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    for r in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    lines.append("")
    lines.append("+SHAPE: how many more vGPUs of that common shape still fit when the arrived "
                 "demand reaches 100 % of capacity (mean over seeds).")
    return "\n".join(lines)


def plot(result: dict, path: str) -> None:
    replay.plot(
        result["policies"],
        path,
        "what-if: %s on %g GPUs" % (result["hardware"], result["capacity_gpus"]),
        xlim=(50, 130),
        ylim=(50, 100),
    )
