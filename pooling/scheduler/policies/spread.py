"""``spread``: put each request on the emptiest host and the emptiest card.

Spreading keeps load and heat even and leaves headroom for bursts (HAMi's node spread + card
spread), at the price of fragmentation; the benchmark shows that price.
"""

from __future__ import annotations

import numpy as np

from pooling.scheduler.framework import Candidates
from pooling.scheduler.framework import Policy


class SpreadPolicy(Policy):
    """Largest free compute share on the host first (ties: host order), emptiest card."""

    def __init__(self, **options):
        self.options = options

    def choose(self, cand: Candidates) -> tuple[int, list[int]]:
        h = cand.model.h
        hosts = cand.hosts
        if cand.request.count:
            key = h.cfree[hosts] / np.maximum(h.ctot[hosts], 1)
        else:
            key = h.cpu_free[hosts]
        best = int(hosts[int(np.argmax(key))])
        devs = cand.devices_on(best)
        if cand.request.count == 1 and not cand.whole:
            cfree = cand.model.d.cfree
            devs = sorted(devs, key=lambda i: -cfree[i])
        return best, cand.cards_for(devs)
