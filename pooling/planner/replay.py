"""Replay a stream of vGPU requests through the product scheduler and measure the packing.

One loop serves the packing benchmark (``bench.packing``) and the what-if planner
(``pooling.planner.whatif``): each arrival goes through ``Scheduler.select`` once, no departures,
no retries; the allocation curve is the allocated share of capacity against the arrived share,
in 1 % buckets, the FGD paper's fragmentation curve.
"""

from __future__ import annotations

import dataclasses
import math
import statistics

from pooling.scheduler import NoValidHost
from pooling.scheduler import PoolModel
from pooling.scheduler import Request
from pooling.scheduler import Scheduler


@dataclasses.dataclass(frozen=True)
class Arrival:
    """One request of the stream and the GPU-milli it asks for (cards x share per card)."""

    request: Request
    demand_milli: int


def round_half_up(x: float, nd: int = 0) -> float:
    """Round half away from zero (Go's math.Round), not Python's banker's rounding."""
    f = 10**nd
    return math.floor(x * f + 0.5) / f


def replay(
    model: PoolModel,
    arrivals,
    scheduler: Scheduler,
    capacity: int,
    possible=None,
    progress=None,
    at_full=None,
    until: float | None = None,
    on_placed=None,
) -> dict:
    """Place ``arrivals`` in order on ``model`` with ``scheduler``; return the packing metrics.

    :param capacity: GPU-milli of the pool (the 100 % of both curve axes).
    :param possible: ``f(request) -> bool``, whether the request fits the empty pool; a failed
        request that would is counted as fragmentation, the others as impossible. Memoised per
        request here. None counts every failure as fragmentation.
    :param progress: ``f(n, total)`` every 2000 arrivals.
    :param at_full: ``f(model, scheduler)`` called once, when the arrived demand first reaches
        100 % of capacity (before that arrival is placed), or at the end if it never does; what
        it returns is the result's ``at_full`` entry. It must leave the model as it found it.
    :param until: stop once the arrived demand rounds above this % of capacity (the curve then
        ends there).
    :param on_placed: ``f(model, placement)`` after each placement is applied (the benchmark
        counts what it wants to, e.g. placements that straddle NVLink islands).
    """
    memo: dict = {}
    arrived = used = reserved = 0
    unit = capacity / 100  # GPU-milli per percent of capacity
    reserved_at_100 = None
    last_below = reserved_below = 0.0
    buckets: dict[int, list[float]] = {}
    first_failure = None
    failures = {"fragmentation": 0, "impossible": 0}
    remote_placed = 0
    full = None
    total = len(arrivals)
    for n, arrival in enumerate(arrivals):
        req = arrival.request
        if at_full is not None and full is None and arrived + arrival.demand_milli > capacity:
            full = at_full(model, scheduler)
        model.observe(req)
        arrived += arrival.demand_milli
        try:
            placement = scheduler.select(req)
        except NoValidHost:
            if possible is None:
                fits_empty = True
            else:
                if req not in memo:
                    memo[req] = possible(req)
                fits_empty = memo[req]
            if fits_empty:
                failures["fragmentation"] += 1
                if first_failure is None:
                    first_failure = (used / capacity * 100, arrived / capacity * 100)
            else:
                failures["impossible"] += 1
        else:
            model.apply(placement)
            used += arrival.demand_milli
            reserved += sum(s.compute_milli for s in placement.slices)
            remote_placed += placement.remote
            if on_placed is not None:
                on_placed(model, placement)
        bucket = int(round_half_up(arrived / unit))
        if until is not None and bucket > until:
            break
        buckets.setdefault(bucket, []).append(round_half_up(used / unit, 2))
        if bucket == 100:
            reserved_at_100 = reserved
        if arrived <= capacity:
            # NOTE: on small clusters no arrival may land in the 100 % bucket; then the last
            # allocation at or below 100 % arrived stands for it.
            last_below = round_half_up(used / unit, 2)
            reserved_below = reserved
        if progress and n % 2000 == 0:
            progress(n, total)
    if at_full is not None and full is None:
        full = at_full(model, scheduler)
    curve = [[b, statistics.fmean(v)] for b, v in sorted(buckets.items())]
    at100 = statistics.fmean(buckets[100]) if 100 in buckets else last_below
    if reserved_at_100 is None:
        reserved_at_100 = reserved_below
    return {
        "unallocated_pct_at_100": 100.0 - at100,
        "alloc_pct_at_first_failure": first_failure[0] if first_failure else None,
        "arrived_pct_at_first_failure": first_failure[1] if first_failure else None,
        "failures": failures,
        "reserved_pct_at_100": reserved_at_100 / capacity * 100,
        "remote_placements": remote_placed,
        "decisions": total,
        "curve": curve,
        "at_full": full,
    }


def headroom(model: PoolModel, scheduler: Scheduler, request: Request, limit: int = 10000) -> int:
    """How many more ``request``s fit on ``model`` now (placed one by one, then given back)."""
    placed = []
    try:
        while len(placed) < limit:
            try:
                placement = scheduler.select(request)
            except NoValidHost:
                break
            model.apply(placement)
            placed.append(placement)
    finally:
        for placement in reversed(placed):
            model.release(placement)
    return len(placed)


def possible_on(model_factory):
    """``possible`` for ``replay``: whether a request fits the empty pool ``model_factory()``."""
    empty = Scheduler(model_factory(), "binpack")

    def possible(req: Request) -> bool:
        try:
            empty.select(req)
        except NoValidHost:
            return False
        return True

    return possible


def stats(values) -> dict:
    values = [v for v in values if v is not None]
    if not values:
        return {"mean": None, "sd": None, "per_seed": []}
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"mean": statistics.fmean(values), "sd": sd, "per_seed": values}


def mean_curve(runs: list[dict]) -> list[list[float]]:
    curves: dict[int, list[float]] = {}
    for r in runs:
        for b, v in r["curve"]:
            curves.setdefault(b, []).append(v)
    return [[b, statistics.fmean(v)] for b, v in sorted(curves.items())]


def plot(policies: dict, path: str, title: str, xlim=(75, 130), ylim=(80, 100)) -> None:
    """Write the allocation curves of ``{name: {"curve", "unallocated_pct_at_100"}}`` as PNG.

    ``unallocated_pct_at_100`` is a number or a ``stats`` dict (its mean is shown).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for name, res in policies.items():
        if not res["curve"]:
            continue
        xs, ys = zip(*res["curve"])
        mean = res["unallocated_pct_at_100"]
        mean = mean["mean"] if isinstance(mean, dict) else mean
        ax.plot(xs, ys, label="%s (%.2f %% unallocated at 100)" % (name, mean))
    ax.plot([0, 130], [0, 130], color="grey", linestyle=":", linewidth=1, label="ideal")
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.axvline(100, color="grey", linewidth=0.5)
    ax.set_xlabel("arrived GPU demand (% of capacity)")
    ax.set_ylabel("allocated GPU (% of capacity)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
