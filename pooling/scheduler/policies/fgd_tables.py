"""The workload tables behind ``fgd`` (pooling.scheduler.policies.fgd), computed once per
workload change rather than per decision: which tasks can be summed exactly and in what order,
how much of each card model the model-constrained shapes reserve, and what leftover of a card no
mix of the workload's fractional shapes can fill.

Kept apart from the policy so that the policy module reads as the per-decision path.
"""

from __future__ import annotations


def exact_plan(tasks, groups):
    """(weight of always-idle tasks, [(group, card count, sorted CPU cuts, prefix weights)])
    when every task weight is an integer and F's task sum stays below 2**53 (then it is exact
    in any order), else None (weights from a target workload are fractions: keep task order).
    """
    if not all(float(w).is_integer() for *_, w in tasks):
        return None
    if sum(w for *_, w in tasks) * 1000 * 64 >= 2**53:
        return None
    gid = {key: g for g, key in enumerate(groups)}
    idle_w = 0
    by: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for cpu, milli, count, ids, w in tasks:
        if count == 0:
            idle_w += int(w)
        else:
            by.setdefault((gid[(milli, ids)], count), []).append((cpu, int(w)))
    plans = []
    for (g, count), cw in by.items():
        cw.sort()
        prefix = [0]
        for _, w in cw:
            prefix.append(prefix[-1] + w)
        plans.append((g, count, [c for c, _ in cw], prefix))
    return idle_w, plans


def reserve(model, gpu_tasks) -> dict[int, float]:
    """{model id: share of its cards the workload's constrained shapes would take}, capped at 1.

    A shape allowed only on models S takes its share of the workload's card demand from the
    cards of S in proportion to their number; a model's reserve is what those shapes take from
    it over what it would hold if demand spread evenly over the pool (1 = the constrained shapes
    alone would fill every card of it). Unconstrained workloads have no reserve.
    """
    d = model.d
    n = model.n_devices
    alive = d.valid[:n] & d.healthy[:n]
    caps: dict[int, float] = {}
    for mid, c in zip(d.model[:n][alive].tolist(), d.ctot[:n][alive].tolist()):
        caps[mid] = caps.get(mid, 0.0) + c
    pool = sum(caps.values())
    demand = sum(w * count * milli for _, milli, count, _, w in gpu_tasks)
    if not pool or not demand:
        return {}
    out: dict[int, float] = {}
    for _, milli, count, ids, w in gpu_tasks:
        if ids is None:
            continue
        allowed = sum(caps.get(m, 0.0) for m in ids)
        if not allowed:
            continue
        share = w * count * milli / demand * pool / allowed
        for m in ids:
            if m in caps:
                out[m] = out.get(m, 0.0) + share
    return {m: min(v, 1.0) for m, v in out.items() if v > 0}


def waste_table(sizes) -> list[int]:
    """For every leftover 0..1000 milli: what no multiset of ``sizes`` can fill."""
    sizes = sorted(s for s in sizes if 0 < s <= 1000)
    best = [0] * 1001
    for f in range(1, 1001):
        b = best[f - 1]
        for s in sizes:
            if s > f:
                break
            b = max(b, best[f - s] + s)
        best[f] = b
    return [f - best[f] for f in range(1001)]


def share_of(raw: tuple, compute: int, memory: int) -> int:
    """Free share of a card in milli-cards after taking ``compute``/``memory``: the tighter of
    compute and memory, so that a card short of either counts as short.

    :param raw: (free compute, free memory, total compute, total memory) of the card.
    """
    cfree, mfree, ctot, mtot = raw
    share = (cfree - compute) * 1000 // ctot if ctot else 0
    if mtot:
        share = min(share, (mfree - memory) * 1000 // mtot)
    return max(share, 0)
