"""``default``: pooling's own policy, fragmentation-aware and tuned on the Alibaba GPU trace.

It keeps FGD's idea (place where the expected fragmentation w.r.t. the popular request shapes
grows least) and changes what the benchmark showed to matter; see doc/source/scheduling.md for
the measured effect of each change. ``default-online`` is the same policy learning the shapes
only from requests already seen (no operator profiles).
"""

from __future__ import annotations

from pooling.scheduler.policies.fgd import FgdPolicy


class DefaultPolicy(FgdPolicy):
    """The product default: FGD-style scoring with the workload weighted by card demand."""

    weighting = 'demand'


class DefaultOnlinePolicy(DefaultPolicy):
    """The default policy learning the workload only from observed requests."""

    def __init__(self, **options):
        options.setdefault('source', 'observed')
        super().__init__(**options)
