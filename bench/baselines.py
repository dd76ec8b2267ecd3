"""The FGD paper's baseline schedulers, re-implemented as policies for calibration only.

Random, DotProd, GpuClustering, GpuPacking and BestFit as the paper's simulator scores them
(integer node scores, ties to the first host in the per-seed host order), plus the stacking
variant of whole-card passthrough. They run through the product's ``Scheduler`` and filters, so
the calibration checks the product's decision path as well as these scores.
"""

from __future__ import annotations

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
    """Affinity tiers by the shares already on the host, then the least GPU left.

    Tiers (0-100): only slices of the request's share on the host (75-100), that share among
    others (50-75), an idle host (25-50), other shares only (0-25); inside a tier
    25 * (8000 - GPU-milli left) / 8000, integer. Host-only requests score 0 everywhere.
    """

    def choose(self, cand):
        model = cand.model
        req = cand.request
        hosts = cand.hosts
        if not req.count:
            return int(hosts[0]), []
        milli = 1000 if cand.whole else req.compute_milli
        shapes = model.host_shapes
        left = model.h.cfree[hosts]
        inner = 25 * (8000 - left) // 8000
        tiers = np.fromiter(
            (_affinity_tier(shapes[h], milli) for h in hosts.tolist()),
            dtype=np.int64,
            count=hosts.size,
        )
        best = _first_max(hosts, inner + 25 * tiers)
        return best, self.pick_cards(cand, best)


def _affinity_tier(shapes, milli) -> int:
    present = [k for k, v in shapes.items() if v > 0]
    if milli in present:
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
