"""``fgd``: fragmentation gradient descent (Weng et al., "Beware of Fragmentation", ATC'23).

A host's fragmentation w.r.t. a workload M of task shapes m with popularity p_m is
F = sum_m p_m * F(m), where F(m) is all idle card capacity of the host if m cannot run there at all
(wrong model, too little CPU, too few cards that fit) and otherwise the idle capacity of the cards
that individually cannot fit m. FGD places a request where F grows least: a host scores
int(100 * sigmoid((F_before - F_after) / 1000)) and, for a fractional request, the first card
reaching the host's best integer score is used. Ties between hosts go to host order, which is
what makes the integer score work (see the benchmark reference, section 2.7).

The workload is the operator's published target (``PoolModel.set_target_workload``) or, without
one, the popularity observed online (``PoolModel.observe``), cut to the shapes that cover 95 % of
the weight. Everything is memoised: F per host state, and each host's score per request shape
until that host changes, so that a decision costs only the hosts touched since the shape was
last seen.
"""

from __future__ import annotations

import bisect
import math

import numpy as np

from pooling.scheduler.framework import Candidates
from pooling.scheduler.framework import Policy
from pooling.scheduler.policies import fgd_tables

#: interned host signatures kept before the interning starts over (bounds a service's memory).
_MAX_SIGS = 1 << 18


#: card slots per host beyond which the fit bits no longer pack beside the signature id in
#: one int64 key (such hosts get interned keys instead).
_PACKED_SLOTS = 40


class _ShapeCache:
    """Per request shape: each host's score and state key as of a host version, and the
    (score, chosen card positions) per state key (hosts in the same state score alike)."""

    __slots__ = ("ver", "score", "key", "sigs", "wide")

    def __init__(self, capacity: int):
        self.ver = np.full(capacity, -1, dtype=np.int64)
        self.score = np.zeros(capacity, dtype=np.int64)
        self.key = np.zeros(capacity, dtype=np.int64)
        self.sigs: dict[int, tuple[int, list[int]]] = {}
        self.wide: dict = {}


class FgdPolicy(Policy):
    """FGD with the workload from the model (``source``: auto, target or observed)."""

    #: how the workload weights a shape: 'pods' (FGD: popularity) or 'demand' (pods x cards).
    weighting = "pods"

    #: the ΔF (milli-cards) that moves the sigmoid by one unit; larger = coarser integer scores.
    scale = 1000.0
    #: whether host-only (CPU) shapes of the workload count (they make every idle card a
    #: fragment, as in the paper).
    host_only_tasks = True
    #: extra weight, as a fraction of the workload's, of a pseudo task that no idle capacity
    #: fits: it favours placements that leave less idle capacity on the host.
    idle_bias = 0.0
    #: weight of the second-order term: each card's leftover that no combination of the
    #: workload's shares can fill (unbounded knapsack), in milli-cards.
    waste_weight = 0.0
    #: weight of the card capacity that the host's free CPU cannot feed at the workload's
    #: CPU-per-card ratio (a smooth version of FGD's "lack CPU").
    cpu_weight = 0.0
    #: weight of the reserve term: idle capacity of card models that the workload's
    #: model-constrained shapes need, valued by how much of that model they would take.
    reserve_weight = 0.0

    def __init__(self, source: str = "auto", coverage: float = 0.95, **options):
        for key in (
            "scale",
            "host_only_tasks",
            "weighting",
            "idle_bias",
            "waste_weight",
            "cpu_weight",
            "reserve_weight",
            "topology_aware",
        ):
            if key in options:
                setattr(self, key, type(getattr(self, key))(options.pop(key)))
        if source not in ("auto", "target", "observed"):
            raise ValueError("source must be auto, target or observed, got %r" % (source,))
        self.source = source
        self.coverage = float(coverage)
        self.options = options
        self._model = None
        self._wl_key = None
        self._next_refresh = 0
        self._tasks: list[tuple] = []
        self._plan: list[tuple] = []
        self._groups: list[tuple] = []
        self._exact = None
        self._total = 1.0
        self._cpu_cuts: list[int] = []
        self._reserve: dict[int, float] = {}
        self._memo: dict = {}
        self._shapes: dict = {}
        self._states: dict[int, tuple] = {}
        self._reset_hosts()

    # -- workload ----------------------------------------------------------------------------
    def _workload(self, model) -> list[tuple[tuple, float]]:
        target = model.target_workload
        if self.source != "observed" and target is not None:
            return sorted(target, key=lambda sw: -sw[1])
        if self.source == "target":
            return []
        return model.observed_workload()

    def _refresh(self, model, request) -> None:
        """Re-read the workload when the model's changed (online: at growing intervals)."""
        online = self.source == "observed" or (
            self.source == "auto" and model.target_workload is None
        )
        key = (id(model), model.workload_version, online)
        if key == self._wl_key and not (online and model.observed_total >= self._next_refresh):
            return
        self._wl_key = key
        n = model.observed_total
        self._next_refresh = max(n + 50, int(n * 1.2))
        wl = self._workload(model)
        if not wl:
            wl = [(request.shape(), 1.0)]
        self._set_tasks(model, wl)

    def _set_tasks(self, model, workload) -> None:
        total = sum(w for _, w in workload)
        kept, acc = [], 0.0
        for shape, w in workload:
            if acc >= self.coverage * total:
                break
            kept.append((shape, w))
            acc += w
        tasks = []
        for (cpu, milli, count, models), w in kept:
            if not count and not self.host_only_tasks:
                continue
            ids = None
            if models is not None:
                ids = frozenset(model.models.ids[m] for m in models if m in model.models.ids)
            weight = w * (
                max(count, 1) * (milli or 1000) / 1000 if self.weighting == "demand" else 1
            )
            tasks.append((cpu, milli if count else 0, count, ids, weight))
        if self.idle_bias:
            tasks.append((0, 0, 0, None, self.idle_bias * sum(t[4] for t in tasks)))
        self._tasks = tasks
        # Many shapes differ only in CPU: the per-card walk of _frag depends on (share, models)
        # alone, so it is done once per such group and reused for each task in task order.
        groups: dict = {}
        self._plan = [
            (cpu, count, groups.setdefault((milli, ids), len(groups)) if count else -1, w)
            for cpu, milli, count, ids, w in tasks
        ]
        self._groups = list(groups)
        self._total = sum(t[4] for t in tasks) or 1.0
        self._exact = fgd_tables.exact_plan(tasks, self._groups)
        self._waste = fgd_tables.waste_table({t[1] for t in tasks if t[2] == 1} | {1000})
        gpu_tasks = [t for t in tasks if t[2]]
        demand = sum(t[4] * t[2] * t[1] for t in gpu_tasks)
        self._cpu_per_milli = (sum(t[4] * t[0] for t in gpu_tasks) / demand) if demand else 0.0
        self._cpu_cuts = sorted({t[0] for t in tasks})
        self._reserve = fgd_tables.reserve(model, gpu_tasks) if self.reserve_weight else {}
        self._memo = {}
        self._shapes = {}
        # NOTE: host states (``_states``) and their interned signatures do not depend on the
        # workload, so they survive a refresh; an online policy refreshes a few dozen times per
        # fill and would otherwise rebuild every host's state after each.

    # -- fragmentation -----------------------------------------------------------------------
    def frag(self, cpu_free: int, items: tuple) -> float:
        """F of a host with ``cpu_free`` and ``items`` = sorted (model id, free share) cards."""
        key = (
            cpu_free if self.cpu_weight else bisect.bisect_right(self._cpu_cuts, cpu_free),
            items,
        )
        value = self._memo.get(key)
        if value is None:
            value = self._frag(cpu_free, items)
            self._memo[key] = value
        return value

    def _frag(self, cpu_free: int, items: tuple) -> float:
        idle = 0
        for _, s in items:
            idle += s
        if self._exact is not None:
            total = self._frag_exact(cpu_free, items, idle)
        else:
            total = self._frag_ordered(cpu_free, items, idle)
        return self._extra_terms(cpu_free, items, idle, total)

    def _frag_exact(self, cpu_free: int, items: tuple, idle: int) -> float:
        """The task sum when every term is an integer (online: counts x milli-cards).

        Sums of integers below 2**53 are exact in floats in any order, so tasks are taken by
        group (same share, models and card count), each group's weight split at ``cpu_free``
        with a prefix sum, instead of one by one (see ``fgd_tables.exact_plan``).
        """
        idle_w, plans = self._exact
        total = idle_w * idle
        walked: dict[int, tuple[int, int]] = {}
        groups = self._groups
        for g, count, cpus, prefix in plans:
            ok = prefix[bisect.bisect_right(cpus, cpu_free)]
            if ok:
                fp = walked.get(g)
                if fp is None:
                    milli, ids = groups[g]
                    fit = 0
                    part = 0
                    for mid, s in items:
                        if ids is not None and mid not in ids:
                            part += s
                        elif s >= milli:
                            fit += 1
                        else:
                            part += s
                    fp = walked[g] = (fit, part)
                total += ok * (idle if fp[0] < count else fp[1])
            total += (prefix[-1] - ok) * idle
        return float(total)

    def _frag_ordered(self, cpu_free: int, items: tuple, idle: int) -> float:
        total = 0.0
        walked: dict[int, tuple[int, int]] = {}
        groups = self._groups
        # NOTE: a fixed summation order (the task order) keeps a delta that should be exactly 0
        # at exactly 0; a few ulps below would flip an integer score from 50 to 49.
        for cpu, count, g, w in self._plan:
            if count == 0 or cpu_free < cpu:
                total += w * idle
                continue
            fp = walked.get(g)
            if fp is None:
                milli, ids = groups[g]
                fit = 0
                part = 0
                for mid, s in items:
                    if ids is not None and mid not in ids:
                        part += s
                    elif s >= milli:
                        fit += 1
                    else:
                        part += s
                fp = walked[g] = (fit, part)
            total += w * (idle if fp[0] < count else fp[1])
        return total

    def _extra_terms(self, cpu_free: int, items: tuple, idle: int, total: float) -> float:
        if self.cpu_weight and self._cpu_per_milli:
            fed = cpu_free / self._cpu_per_milli
            total += self.cpu_weight * self._total * max(0.0, idle - fed)
        if self._reserve:
            reserve = self._reserve
            kept = sum(reserve.get(m, 0.0) * s for m, s in items)
            total -= self.reserve_weight * self._total * kept
        if self.waste_weight:
            waste = self._waste
            total += self.waste_weight * self._total * sum(waste[s] for _, s in items)
        return total

    def _host_state(self, model, h: int):
        """(cpu free, cards [(slot, model id, free share, raw)], sorted items, signature id)
        of host ``h``, cached per host version. The signature (free CPU, each card's model,
        raw capacity and links, in order) is interned to a small int once per host change:
        hashing the nested tuple on every scoring was a third of an online run's time."""
        ver = int(model.h.ver[h])
        st = self._states.get(h)
        if st is not None and st[0] == ver:
            return st[1]
        d = model.d
        cards = []
        for i in model.host_devices[h]:
            if d.healthy[i]:
                raw = (int(d.cfree[i]), int(d.mfree[i]), int(d.ctot[i]), int(d.mtot[i]))
                cards.append((i, int(d.model[i]), fgd_tables.share_of(raw, 0, 0), raw))
        cpu_free = int(model.h.cpu_free[h])
        items = tuple(sorted((m, s) for _, m, s, _ in cards))
        links = model.dev_links
        sig = (cpu_free, tuple((m, raw, links[i]) for i, m, _, raw in cards))
        sig_id = self._sig_ids.setdefault(sig, len(self._sig_ids))
        state = (cpu_free, cards, items, sig_id, tuple(c[0] for c in cards))
        self._states[h] = (ver, state)
        return state

    def _reset_hosts(self) -> None:
        self._states = {}
        self._sig_ids: dict = {}
        self._sid = np.zeros(0, dtype=np.int64)
        self._sver = np.zeros(0, dtype=np.int64)
        self._slots = np.zeros((0, 0), dtype=np.int64)
        self._shapes = {}

    def _sync_hosts(self, model, hosts: np.ndarray) -> None:
        """Bring the per-host signature ids and card slot rows of ``hosts`` up to date.

        They let a decision key every dirty host's state with array operations (signature id
        and the fit bits of its cards) and score each distinct key once: after an online
        workload refresh every host is dirty, and a Python loop that hashed each host's state
        was most of ``default-online``'s time.
        """
        cap = max(model.h.capacity, model.n_hosts)
        if self._sid.size < cap:
            grow = cap - self._sid.size
            self._sid = np.concatenate([self._sid, np.zeros(grow, dtype=np.int64)])
            self._sver = np.concatenate([self._sver, np.full(grow, -1, dtype=np.int64)])
            self._slots = np.concatenate(
                [self._slots, np.full((grow, self._slots.shape[1]), -1, dtype=np.int64)]
            )
        vers = model.h.ver[hosts]
        stale = self._sver[hosts] != vers
        if not stale.any():
            return
        todo = hosts[stale].tolist()
        if len(self._sig_ids) + len(todo) > _MAX_SIGS:
            # A long-lived service sees ever new states: start the interning over, and drop
            # everything keyed by the old ids.
            self._reset_hosts()
            self._sync_hosts(model, hosts)
            return
        for h, ver in zip(todo, vers[stale].tolist()):
            _, _, _, sig_id, slots = self._host_state(model, h)
            width = self._slots.shape[1]
            if len(slots) > width:
                grown = np.full((self._slots.shape[0], len(slots)), -1, dtype=np.int64)
                grown[:, :width] = self._slots
                self._slots = grown
                self._shapes = {}  # the keys are built on the slot width
            row = self._slots[h]
            row[:] = -1
            row[: len(slots)] = slots
            self._sid[h] = sig_id
            self._sver[h] = ver

    def _keys(self, cand: Candidates, cache: _ShapeCache, dirty: np.ndarray) -> list[int]:
        """One int per dirty host: equal for hosts in the same state with the same fit."""
        sids = self._sid[dirty]
        width = self._slots.shape[1]
        if cand.fit is None or not width:
            return sids.tolist()
        fit = np.append(cand.fit, False)  # slot -1 (padding) reads False
        bits = fit[self._slots[dirty]]
        if width <= _PACKED_SLOTS:
            weights = np.left_shift(1, np.arange(width, dtype=np.int64))
            return ((sids << width) | (bits.astype(np.int64) @ weights)).tolist()
        wide = cache.wide
        packed = np.packbits(bits, axis=1)
        return [
            -1 - wide.setdefault((s, r.tobytes()), len(wide))
            for s, r in zip(sids.tolist(), packed)
        ]

    def _score(self, delta: float) -> int:
        x = delta / (self._total * self.scale)
        if x < -700:
            return 0
        return int(100.0 / (1.0 + math.exp(-x)))

    def _score_state(self, cand: Candidates, cpu_free, cards, items):
        """(integer score, chosen card positions) for one host state."""
        req = cand.request
        before = self.frag(cpu_free, items)
        cpu_after = cpu_free
        if cand.cpu_on_device_host and cpu_free >= req.cpu_milli:
            cpu_after = cpu_free - req.cpu_milli
        if req.count == 0:
            return self._score(before - self.frag(cpu_after, items)), []
        fit = cand.fit
        fitting = [p for p, c in enumerate(cards) if fit[c[0]]]
        if cand.whole or req.count > 1:
            devs = [cards[p][0] for p in fitting]
            pos = {d: p for d, p in zip(devs, fitting)}
            chosen = [pos[d] for d in cand.cards_for(devs)]
            after = tuple(sorted((c[1], 0 if p in chosen else c[2]) for p, c in enumerate(cards)))
            return self._score(before - self.frag(cpu_after, after)), chosen
        best, best_pos, seen = -1, None, {}
        for p in fitting:
            _, m, s, raw = cards[p]
            score = seen.get((m, raw))
            if score is None:
                new = fgd_tables.share_of(raw, req.compute_milli, req.memory_mb)
                after = list(items)
                after[after.index((m, s))] = (m, new)
                after.sort()
                score = self._score(before - self.frag(cpu_after, tuple(after)))
                seen[(m, raw)] = score
            if score > best:
                best, best_pos = score, p
        return best, [best_pos]

    # -- decision ----------------------------------------------------------------------------
    def choose(self, cand: Candidates) -> tuple[int, list[int]]:
        model = cand.model
        req = cand.request
        if model is not self._model:
            self._model = model
            self._wl_key = None
            self._reset_hosts()
        self._refresh(model, req)
        hosts = cand.hosts
        self._sync_hosts(model, hosts)
        skey = (
            req.compute_milli,
            req.memory_mb,
            req.count,
            req.models,
            req.vendors,
            req.isolation,
            req.link,
            req.cpu_milli,
            cand.whole,
            cand.cpu_on_device_host,
        )
        cache = self._shapes.get(skey)
        if cache is None or cache.ver.size < model.n_hosts:
            cache = _ShapeCache(max(model.h.capacity, model.n_hosts))
            self._shapes[skey] = cache
        vers = model.h.ver[hosts]
        stale = cache.ver[hosts] != vers
        if stale.any():
            dirty = hosts[stale]
            keys = self._keys(cand, cache, dirty)
            sigs = cache.sigs
            scores = []
            for h, k in zip(dirty.tolist(), keys):
                hit = sigs.get(k)
                if hit is None:
                    cpu_free, cards, items, _, _ = self._host_state(model, h)
                    hit = self._score_state(cand, cpu_free, cards, items)
                    sigs[k] = hit
                scores.append(hit[0])
            cache.score[dirty] = scores
            cache.key[dirty] = keys
            cache.ver[dirty] = vers[stale]
        best = self.pick_host(cand, cache.score[hosts])
        cards = self._host_state(model, best)[1]
        return best, [cards[p][0] for p in cache.sigs[int(cache.key[best])][1]]

    def pick_host(self, cand: Candidates, scores: np.ndarray) -> int:
        """The host with the best integer score; ties go to host order."""
        return int(cand.hosts[int(np.argmax(scores))])
