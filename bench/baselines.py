"""The FGD paper's baseline schedulers, re-implemented as policies for calibration only.

Random, DotProd, GpuClustering, GpuPacking and BestFit as the paper's simulator scores them
(integer node scores, ties to the first host in the per-seed host order), plus the stacking
variant of whole-card passthrough. They run through the product's ``Scheduler`` and filters, so
the calibration checks the product's decision path as well as these scores.
"""

from __future__ import annotations

import random

import numpy as np

from pooling.scheduler.framework import Candidates, Policy
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
    """Hosts already running slices of the same share first, then empty hosts, best-fit card."""

    def choose(self, cand):
        model = cand.model
        req = cand.request
        hosts = cand.hosts
        if req.count == 1 and not cand.whole:
            milli = req.compute_milli
            shapes = model.host_shapes
            score = np.fromiter(
                (
                    (2 if shapes[h][milli] > 0 else 1 if not +shapes[h] else 0)
                    for h in hosts.tolist()
                ),
                dtype=np.int64,
                count=hosts.size,
            )
            best = _first_max(hosts, score)
        else:
            best = int(hosts[0])
        return best, self.pick_cards(cand, best)


class GpuPackingPolicy(Policy):
    """Already shared cards first (least free), then free cards of used hosts, then new hosts."""

    def choose(self, cand):
        model = cand.model
        h = model.h
        req = cand.request
        hosts = cand.hosts
        used = h.cfree[hosts] < h.ctot[hosts]
        if req.count == 1 and not cand.whole:
            d = model.d
            fit = cand.fit
            shared = np.zeros(model.n_hosts, dtype=bool)
            n = model.n_devices
            partial = fit & (d.cfree[:n] < d.ctot[:n])
            shared[d.host[:n][partial]] = True
            score = np.where(shared[hosts], 2, np.where(used, 1, 0))
        else:
            score = used.astype(int)
        best = _first_max(hosts, score)
        return best, self.pick_cards(cand, best)


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
