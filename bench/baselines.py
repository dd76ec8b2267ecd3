"""The FGD paper's baseline schedulers, re-implemented as policies for calibration only.

Random, DotProd, GpuClustering, GpuPacking and BestFit as the paper's simulator scores them
(integer node scores, ties to the first host in the per-seed host order), plus the stacking
variant of whole-card passthrough. They run through the product's ``Scheduler`` and filters, so
the calibration checks the product's decision path as well as these scores.
"""

from __future__ import annotations

import collections
import random

import numpy as np

from pooling.scheduler.framework import Candidates
from pooling.scheduler.framework import Policy
from pooling.scheduler.policies.passthrough import PassthroughPolicy

CPU_NORM = 128000.0
GPU_NORM = 8000.0


def _first_max(hosts: np.ndarray, score: np.ndarray) -> int:
    return int(hosts[int(np.argmax(score))])


def _req_gpu(cand: Candidates) -> int:
    req = cand.request
    return req.count * req.compute_milli if req.count else 0


class RandomPolicy(Policy):
    """A random feasible host and random cards."""

    def __init__(self, seed: int = 0, **options):
        self.rng = random.Random(seed)

    def choose(self, cand):
        h = int(cand.hosts[self.rng.randrange(cand.hosts.size)])
        devs = cand.devices_on(h)
        return h, self.rng.sample(devs, cand.request.count) if cand.request.count else []


class BestFitPolicy(Policy):
    """Least CPU and GPU left over on the host, best-fit card."""

    def choose(self, cand):
        h = cand.model.h
        hosts = cand.hosts
        req = cand.request
        cpu_left = h.cpu_free[hosts] - req.cpu_milli
        gpu_left = h.cfree[hosts] - _req_gpu(cand)
        score = ((1.0 - 0.5 * cpu_left / CPU_NORM - 0.5 * gpu_left / GPU_NORM) * 100).astype(int)
        best = _first_max(hosts, score)
        return best, self.pick_cards(cand, best)


class DotProdPolicy(Policy):
    """Tetris alignment: the smallest dot product of free and requested (CPU, GPU)."""

    def choose(self, cand):
        h = cand.model.h
        hosts = cand.hosts
        req = cand.request
        dot = (h.cpu_free[hosts] / CPU_NORM) * (req.cpu_milli / CPU_NORM) + (
            h.cfree[hosts] / GPU_NORM
        ) * (_req_gpu(cand) / GPU_NORM)
        score = (100 * (1.0 - dot / 2)).astype(int)
        best = _first_max(hosts, score)
        return best, cand.devices_on(best)[: cand.request.count]


class GpuClusteringPolicy(Policy):
    """GpuClustering as the FGD artifact scores it: affinity tiers, then the least GPU left.

    A pod's GPU affinity is its *kind*, not its share: every fractional pod (one card, share
    < 1000) has the one affinity ``share``; whole-card pods have ``N-gpu`` by their card count
    (1, 2, 4, 8). A host's affinities are those of the GPU pods it holds (host-only pods have
    none). Score of a GPU request, with ``inner = 25 * (8000 - GPU-milli left on the host) //
    8000``: the request's affinity is the host's only one, 75 + inner; it is among others,
    50 + inner; the host holds no GPU pod, 25 + inner; only other affinities, inner.
    Host-only requests score 0 everywhere (the first host in the tie order). Cards: best fit
    for a fractional pod (least free card that fits, first in device order on ties), the
    first whole free cards in device order otherwise (``Policy.pick_cards``).

    The model counts slices by share, not pods by card count, so whole-card pods are kept in
    a ledger of this policy's own placements, confirmed when the host's whole-card slice
    count grows by the pod's card count; a host whose whole-card slices disagree with the
    ledger (a placement made elsewhere, a release) counts them as ``1-gpu`` pods.
    """

    SHARE = "share"

    def __init__(self, **options):
        self._ledger: dict[int, collections.Counter] = {}
        self._pending: tuple[int, int, int] | None = None
        self._cache: dict[int, tuple[int, frozenset]] = {}

    def choose(self, cand):
        model = cand.model
        req = cand.request
        hosts = cand.hosts
        self._confirm(model)
        if not req.count:
            return int(hosts[0]), []
        tag = _gpu_affinity(req, cand.whole)
        left = model.h.cfree[hosts]
        inner = 25 * (8000 - left) // 8000
        tiers = np.fromiter(
            (_clustering_tier(self.affinities(model, h), tag) for h in hosts.tolist()),
            dtype=np.int64,
            count=hosts.size,
        )
        best = _first_max(hosts, inner + 25 * tiers)
        if tag != self.SHARE:
            self._pending = (best, req.count, _whole_slices(model.host_shapes[best]))
        return best, self.pick_cards(cand, best)

    def affinities(self, model, h: int) -> frozenset:
        """The GPU affinities present on host ``h``."""
        self._confirm(model)
        ver = int(model.h.ver[h])
        hit = self._cache.get(h)
        if hit is not None and hit[0] == ver:
            return hit[1]
        shapes = model.host_shapes[h]
        tags = set()
        if any(v > 0 and k < 1000 for k, v in shapes.items()):
            tags.add(self.SHARE)
        whole = _whole_slices(shapes)
        if whole:
            ledger = self._ledger.get(h)
            if ledger and sum(n * c for n, c in ledger.items()) == whole:
                tags.update("%d-gpu" % n for n, c in ledger.items() if c > 0)
            else:
                tags.add("1-gpu")
        result = frozenset(tags)
        self._cache[h] = (ver, result)
        return result

    def _confirm(self, model) -> None:
        if self._pending is None:
            return
        h, n, before = self._pending
        self._pending = None
        if _whole_slices(model.host_shapes[h]) == before + n:
            self._ledger.setdefault(h, collections.Counter())[n] += 1
            self._cache.pop(h, None)


def _gpu_affinity(req, whole: bool) -> str:
    if req.count == 1 and not whole and req.compute_milli < 1000:
        return GpuClusteringPolicy.SHARE
    return "%d-gpu" % req.count


def _whole_slices(shapes) -> int:
    return sum(v for k, v in shapes.items() if k >= 1000)


def _clustering_tier(present: frozenset, tag: str) -> int:
    if tag in present:
        return 3 if len(present) == 1 else 2
    return 0 if present else 1


class GpuPackingPolicy(Policy):
    """Shared cards first, then free cards of used hosts, then fresh (smaller first) hosts.

    Scores: using only already-shared cards 100 - (free % of the cards used)/10 (>= 50); having
    to use whole free cards on a used host 50 - their number (>= 33); a host whose cards are
    all free 33 - its card count. Cards: least free first. Host-only requests score 0.
    """

    def choose(self, cand):
        req = cand.request
        hosts = cand.hosts
        if not req.count:
            return int(hosts[0]), []
        scores = np.fromiter(
            (self._score(cand, h) for h in hosts.tolist()), dtype=np.int64, count=hosts.size
        )
        best = _first_max(hosts, scores)
        return best, self.pick_cards(cand, best)

    @staticmethod
    def _score(cand, h) -> int:
        d = cand.model.d
        devs = cand.model.host_devices[h]
        n_free = sum(1 for i in devs if d.cfree[i] == d.ctot[i])
        if n_free == len(devs):
            return max(33 - n_free, n_free)
        used = sorted((int(d.cfree[i]), i) for i in cand.devices_on(h))[: cand.request.count]
        whole = sum(1 for free, _ in used if free == 1000)
        if whole:
            return max(50 - whole, 33)
        free_pct = sum(free * 100 // 1000 for free, _ in used)
        return max(100 - free_pct // 10, 50)


class PassthroughStackPolicy(PassthroughPolicy):
    """Whole cards, stacking (negative RAM weigher)."""

    def __init__(self, **options):
        super().__init__(stack=True, **options)


BASELINES = {
    "random": RandomPolicy,
    "dotprod": DotProdPolicy,
    "gpuclustering": GpuClusteringPolicy,
    "gpupacking": GpuPackingPolicy,
    "bestfit": BestFitPolicy,
    "passthrough-stack": PassthroughStackPolicy,
}
