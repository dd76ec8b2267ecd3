"""``default``: pooling's own policy, fragmentation-aware and tuned on the Alibaba GPU trace.

It keeps FGD's idea (place where the expected fragmentation w.r.t. the popular request shapes
grows least) and changes what the benchmark showed to matter; see doc/source/scheduling.md for
the measured effect of each change. ``default-online`` is the same policy learning the shapes
only from requests already seen (no operator profiles).
"""

from __future__ import annotations

import numpy as np

from pooling.scheduler.framework import Candidates
from pooling.scheduler.policies.fgd import FgdPolicy


class DefaultPolicy(FgdPolicy):
    """The product default: FGD scoring, host-only workloads steered to saturated hosts."""

    #: host-only requests: 'fgd' (as the paper), 'tiebreak' (the least idle card capacity
    #: wins FGD ties), 'least-idle' (the least idle card capacity first, then FGD), 'whole'
    #: (the fewest idle whole cards' worth first, then FGD).
    host_only = 'least-idle'

    def __init__(self, **options):
        if 'host_only' in options:
            self.host_only = options.pop('host_only')
        super().__init__(**options)

    def pick_host(self, cand: Candidates, scores: np.ndarray) -> int:
        if cand.request.count or self.host_only == 'fgd':
            return super().pick_host(cand, scores)
        # NOTE: CPU on a host whose cards are all taken strands nothing; CPU taken on a host
        # with idle cards may later strand them (FGD scores both alike, 50, and the tie then
        # goes to host order).
        idle = cand.model.h.cfree[cand.hosts]
        if self.host_only == 'tiebreak':
            key = scores * 8192 - np.minimum(idle, 8191)
        elif self.host_only == 'whole':
            whole = idle // 1000
            key = scores - whole * 128
        else:
            key = scores - idle * 128
        return int(cand.hosts[int(np.argmax(key))])


class DefaultOnlinePolicy(DefaultPolicy):
    """The default policy learning the workload only from observed requests."""

    def __init__(self, **options):
        options.setdefault('source', 'observed')
        super().__init__(**options)
