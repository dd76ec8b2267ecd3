"""``binpack``: fill the fullest host first, and on it the fullest card that fits.

The simple packing policy (HAMi's node binpack + card binpack): cheap, vectorised, and a good
default where requests are mostly whole cards. Host-only requests pack on the host with the least
free CPU.
"""

from __future__ import annotations

import numpy as np

from pooling.scheduler.framework import Candidates
from pooling.scheduler.framework import Policy


class BinpackPolicy(Policy):
    """Least free compute on the host first (ties: host order), best-fit card."""

    def __init__(self, **options):
        self.options = options

    def choose(self, cand: Candidates) -> tuple[int, list[int]]:
        h = cand.model.h
        hosts = cand.hosts
        if cand.request.count:
            key = h.cfree[hosts]
        else:
            key = h.cpu_free[hosts]
        best = int(hosts[int(np.argmin(key))])
        return best, self.pick_cards(cand, best)
