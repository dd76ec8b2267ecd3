"""What the scheduler is asked (Request) and what it answers (Placement, NoValidHost).

These are plain frozen dataclasses so that the claim path, the benchmark and the tests share one
contract and a decision can be logged, compared and replayed.
"""

from __future__ import annotations

import dataclasses

LOCALITIES = ("local", "remote-allowed", "remote-required")
ISOLATION_LEVELS = ("hard", "firm", "soft", "none")
#: as pooling.scheduler.topology.LEVELS (kept here so that the request module stands alone).
LINK_LEVELS = ("nvlink", "pcie_switch", "pcie_hostbridge", "numa")


class NoValidHost(Exception):
    """No host of the pool can take the request; ``reason`` says which filter stopped it."""

    def __init__(self, reason):
        # NOTE: ``reason`` may be a callable that builds the message on first use, so that a
        # caller that never reads it (the benchmark) does not pay for the diagnosis.
        super().__init__()
        self._reason = reason

    @property
    def reason(self) -> str:
        if callable(self._reason):
            self._reason = self._reason()
        return self._reason

    def __str__(self) -> str:
        return self.reason


@dataclasses.dataclass(frozen=True)
class Request:
    """One vGPU request.

    Units: ``compute_milli`` per card (1000 = a whole card), ``memory_mb`` per card in MiB,
    ``cpu_milli`` in milli-cores and ``ram_mb`` in MiB of the host where the workload runs.
    ``count`` > 1 means whole cards (every card is fully taken); ``count`` == 0 is a host-only
    request (CPU and RAM, no device), which the benchmark uses for the CPU-only pods of the trace.

    Locality: ``local`` puts the devices on ``consumer_host`` (or, without one, on the host where
    the workload runs, which the scheduler picks); ``remote-required`` puts them on another up host
    of the consumer's fabric; ``remote-allowed`` lets the scheduler use the consumer's host or any
    host of its fabric, and without a consumer host it may also run the workload (CPU/RAM) on
    another host of the device host's fabric than the devices (the "remote relaxation").
    """

    compute_milli: int
    memory_mb: int
    count: int = 1
    models: frozenset[str] | None = None
    vendors: frozenset[str] | None = None
    isolation: str | None = None
    locality: str = "remote-allowed"
    consumer_host: str | None = None
    pool: str | None = None
    cpu_milli: int = 0
    ram_mb: int = 0
    #: the worst link level the cards of a multi-card request may share (``nvlink``,
    #: ``pcie_switch``, ``pcie_hostbridge``, ``numa``; see ``pooling.scheduler.topology``);
    #: None = any, the best available still preferred.
    link: str | None = None

    def __post_init__(self):
        if self.count < 0:
            raise ValueError("count must be >= 0, got %r" % (self.count,))
        if self.count >= 1 and not 1 <= self.compute_milli <= 1000:
            raise ValueError("compute_milli must be within 1..1000, got %r" % (self.compute_milli,))
        if self.memory_mb < 0 or self.cpu_milli < 0 or self.ram_mb < 0:
            raise ValueError("memory_mb, cpu_milli and ram_mb must be >= 0")
        if self.locality not in LOCALITIES:
            raise ValueError(
                "locality must be one of %s, got %r" % (", ".join(LOCALITIES), self.locality)
            )
        if self.locality == "remote-required" and not self.consumer_host:
            raise ValueError("locality remote-required needs a consumer_host")
        if self.isolation is not None and self.isolation not in ISOLATION_LEVELS:
            raise ValueError(
                "isolation must be one of %s, got %r"
                % (", ".join(ISOLATION_LEVELS), self.isolation)
            )
        if self.link is not None:
            if self.link not in LINK_LEVELS:
                raise ValueError(
                    "link must be one of %s, got %r" % (", ".join(LINK_LEVELS), self.link)
                )
            if self.count < 2:
                raise ValueError("link applies to requests of 2 or more cards")
        # NOTE: accept any iterable of names for convenience, store frozensets so that the
        # request stays hashable (the policies memoise per request shape).
        for field in ("models", "vendors"):
            value = getattr(self, field)
            if value is not None and not isinstance(value, frozenset):
                object.__setattr__(self, field, frozenset(value))

    @property
    def whole_cards(self) -> bool:
        """True when every card is taken entirely (several cards, or a full compute share)."""
        return self.count > 1

    def shape(self) -> tuple:
        """The popularity key of a request: what FGD calls a task type (memory left out)."""
        return (self.cpu_milli, self.compute_milli if self.count else 0, self.count, self.models)


@dataclasses.dataclass(frozen=True)
class SliceAssignment:
    """The part of one device that backs the request; ``generation`` is the device generation
    the decision was based on (the claim's compare-and-swap guard)."""

    device_uuid: str
    compute_milli: int
    memory_mb: int
    generation: int


@dataclasses.dataclass(frozen=True)
class Placement:
    """A decision: the device host, one slice per card, and the host whose CPU/RAM is used.

    ``cpu_milli`` and ``ram_mb`` repeat the request's host resources so that
    ``PoolModel.apply``/``release`` need nothing but the placement.
    """

    host: str | None
    slices: tuple[SliceAssignment, ...]
    cpu_host: str | None
    cpu_milli: int = 0
    ram_mb: int = 0

    @property
    def remote(self) -> bool:
        return bool(self.slices) and self.cpu_host is not None and self.cpu_host != self.host
