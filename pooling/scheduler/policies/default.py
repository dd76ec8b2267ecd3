"""``default``: pooling's own policy, fragmentation-aware and tuned on the Alibaba GPU trace.

It keeps FGD's idea (place where the expected fragmentation w.r.t. the popular request shapes
grows least, integer scores, ties to host order) and adds what the benchmark showed FGD to miss:
card capacity that the host's free CPU can no longer feed. FGD only sees "lack CPU" as a hard
threshold per task shape, so hosts whose CPU runs out slowly strand their last cards (about
45 GPUs of idle capacity sit on hosts with less than one free core at the end of an FGD run on
the trace). The extra term counts idle card capacity beyond what the free CPU can feed at the
workload's CPU-per-card ratio. See doc/source/scheduling.md for the measured effect.

``default-online`` is the same policy learning the shapes only from requests already seen (no
operator profiles).
"""

from __future__ import annotations

from pooling.scheduler.policies.fgd import FgdPolicy


class DefaultPolicy(FgdPolicy):
    """FGD plus the CPU-feeding term (``cpu_weight``)."""

    cpu_weight = 0.5
    reserve_weight = 0.5


class DefaultOnlinePolicy(DefaultPolicy):
    """The default policy learning the workload only from observed requests."""

    def __init__(self, **options):
        options.setdefault("source", "observed")
        super().__init__(**options)
