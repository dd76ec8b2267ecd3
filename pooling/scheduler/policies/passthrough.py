"""``passthrough``: whole cards only, the way Nova PCI passthrough and Cyborg serve GPUs today.

Every request is rounded up to whole cards (a fractional request takes a full card), and hosts
are weighed like Nova's default RAM weigher: the host with the most free memory first (spread).
The benchmark keeps it as the baseline that pooling must beat.
"""

from __future__ import annotations

import numpy as np

from pooling.scheduler.framework import Candidates
from pooling.scheduler.framework import Policy


class PassthroughPolicy(Policy):
    """Whole cards; spread by host RAM (Nova default) or stack (``stack=True``)."""

    whole_cards = True

    def __init__(self, stack: bool = False, **options):
        self.stack = stack
        self.options = options

    def choose(self, cand: Candidates) -> tuple[int, list[int]]:
        h = cand.model.h
        hosts = cand.hosts
        key = np.where(h.ram[hosts] > 0, h.ram_free[hosts], h.cfree[hosts])
        pick = np.argmin(key) if self.stack else np.argmax(key)
        best = int(hosts[int(pick)])
        count = max(cand.request.count, 1)
        if not cand.request.count:
            return best, []
        devs = cand.devices_on(best)
        return best, cand.cards_for(devs) if count > 1 else devs[:count]
