"""The in-memory model of a pool that every scheduling decision reads.

The model is loaded from the DB at start and kept current by ``apply``/``release`` after each
claim commits, so that a decision does no I/O. State lives in flat numpy arrays indexed by a
host or device slot, because the filters and most policies are vectorised over every device of
the pool (a decision over 50,000 cards must stay well under a millisecond). ``HostState`` and
``DeviceState`` are read-only snapshots for callers; they are built on demand.
"""

from __future__ import annotations

import collections
import dataclasses
import threading

import numpy as np

from pooling.scheduler import topology
from pooling.scheduler.request import Placement
from pooling.scheduler.request import Request

# NOTE: hosts that do not track CPU or RAM (0 = not tracked) get this much free so that a single
# comparison serves both cases on the hot path.
UNTRACKED = 1 << 60


@dataclasses.dataclass(frozen=True)
class DeviceState:
    """A snapshot of one device."""

    uuid: str
    host: str
    vendor: str
    model: str
    compute_total: int
    memory_mb: int
    compute_used: int
    memory_used: int
    healthy: bool
    isolation: frozenset[str]
    generation: int

    @property
    def compute_free(self) -> int:
        return self.compute_total - self.compute_used

    @property
    def memory_free(self) -> int:
        return self.memory_mb - self.memory_used


@dataclasses.dataclass(frozen=True)
class HostState:
    """A snapshot of one host (``cpu_milli``/``ram_mb`` 0 = not tracked)."""

    name: str
    pool: str
    fabric: str | None
    cpu_milli: int
    ram_mb: int
    cpu_used: int
    ram_used: int
    up: bool
    devices: tuple[str, ...]
    #: The platform that discovered the host (``vmware``: an ESXi host), None for an agent's.
    platform: str | None = None


class _Interner:
    """Small string <-> id table so that vendors, models, pools and fabrics live in int arrays."""

    def __init__(self):
        self.ids: dict[str, int] = {}
        self.names: list[str] = []

    def id(self, name: str) -> int:
        if name not in self.ids:
            self.ids[name] = len(self.names)
            self.names.append(name)
        return self.ids[name]


class _Arrays:
    """A set of equally long numpy arrays that grow by doubling."""

    def __init__(self, spec: dict[str, tuple[type, object]]):
        self._spec = spec
        self.capacity = 16
        for name, (dtype, fill) in spec.items():
            setattr(self, name, np.full(self.capacity, fill, dtype=dtype))

    def ensure(self, n: int) -> None:
        if n <= self.capacity:
            return
        new = max(n, self.capacity * 2)
        for name, (dtype, fill) in self._spec.items():
            old = getattr(self, name)
            arr = np.full(new, fill, dtype=dtype)
            arr[: self.capacity] = old
            setattr(self, name, arr)
        self.capacity = new


class PoolModel:
    """The pool as the scheduler sees it: hosts, devices, free capacity and request popularity.

    Host slots are handed out in insertion order and never reused, so the slot order is a
    stable tie-break order for every policy (the benchmark inserts hosts in a per-seed random
    order, which is how the FGD paper's simulator breaks ties).
    """

    def __init__(self):
        # NOTE: the model is not thread-safe by itself; callers that decide and apply from
        # several threads (API workers) hold this lock around select+claim+apply.
        self.lock = threading.RLock()
        self.h = _Arrays(
            {
                "valid": (bool, False),
                "up": (bool, False),
                "pool": (np.int32, -1),
                "fabric": (np.int32, -1),
                "cpu": (np.int64, 0),
                "cpu_free": (np.int64, 0),
                "ram": (np.int64, 0),
                "ram_free": (np.int64, 0),
                "ver": (np.int64, 0),
                "cfree": (np.int64, 0),
                "ctot": (np.int64, 0),
                # NOTE: True for a host a platform driver discovered (an ESXi host): its cards
                # serve only consumers running on it (no remoting server there).
                "discovered": (bool, False),
            }
        )
        self.d = _Arrays(
            {
                "valid": (bool, False),
                "healthy": (bool, False),
                "host": (np.int32, 0),
                "vendor": (np.int32, -1),
                "model": (np.int32, -1),
                "ctot": (np.int64, 0),
                "cfree": (np.int64, 0),
                "mtot": (np.int64, 0),
                "mfree": (np.int64, 0),
                "gen": (np.int64, 0),
                "whole_free": (bool, False),
            }
        )
        self.n_hosts = 0  # host slots handed out (including removed ones)
        self.n_devices = 0  # device slots handed out (including removed ones)
        self.host_names: list[str | None] = []
        self.host_index: dict[str, int] = {}
        self.host_devices: list[list[int]] = []
        self.host_shapes: list[collections.Counter] = []
        self.dev_uuids: list[str | None] = []
        self.dev_index: dict[str, int] = {}
        self.dev_isolation: list[frozenset[str]] = []
        # NOTE: per device slot, its link group label per level of topology.LEVELS (None: the
        # host's topology is unknown); set by set_topology.
        self.dev_links: list[tuple[int, ...] | None] = []
        self.pools = _Interner()
        self.fabrics = _Interner()
        self.host_platform: dict[int, str] = {}
        self.vendors = _Interner()
        self.models = _Interner()
        # NOTE: struct_version changes when anything a cached filter mask depends on changes
        # (devices added/removed, health, host up/down); version on every change at all.
        self.struct_version = 0
        self.version = 0
        self._mask_cache: dict = {}
        self._target: list[tuple[tuple, float]] | None = None
        self._observed: collections.Counter = collections.Counter()
        self.observed_total = 0
        self.workload_version = 0

    # -- hosts -------------------------------------------------------------------------------
    def add_host(
        self, name, pool="default", fabric=None, cpu_milli=0, ram_mb=0, up=True, platform=None
    ):
        """Add (or update in place) a host; ``cpu_milli``/``ram_mb`` 0 = not tracked;
        ``platform``: the platform driver that discovered it (None: a host with an agent)."""
        idx = self.host_index.get(name)
        if idx is None:
            idx = self.n_hosts
            self.n_hosts += 1
            self.h.ensure(self.n_hosts)
            self.host_names.append(name)
            self.host_index[name] = idx
            self.host_devices.append([])
            self.host_shapes.append(collections.Counter())
            used_cpu = used_ram = 0
        else:
            used_cpu = self._used(self.h.cpu[idx], self.h.cpu_free[idx])
            used_ram = self._used(self.h.ram[idx], self.h.ram_free[idx])
        h = self.h
        h.valid[idx] = True
        h.up[idx] = bool(up)
        h.pool[idx] = self.pools.id(pool)
        h.fabric[idx] = -1 if fabric is None else self.fabrics.id(fabric)
        h.cpu[idx] = cpu_milli
        h.cpu_free[idx] = cpu_milli - used_cpu if cpu_milli else UNTRACKED
        h.ram[idx] = ram_mb
        h.ram_free[idx] = ram_mb - used_ram if ram_mb else UNTRACKED
        h.discovered[idx] = bool(platform)
        if platform:
            self.host_platform[idx] = platform
        else:
            self.host_platform.pop(idx, None)
        self._touch_host(idx, struct=True)
        return idx

    @staticmethod
    def _used(total, free):
        return 0 if not total else int(total - free)

    def set_host_up(self, name: str, up: bool) -> None:
        idx = self._host_idx(name)
        self.h.up[idx] = bool(up)
        self._touch_host(idx, struct=True)

    def remove_host(self, name: str) -> None:
        """Remove a host and every device on it."""
        idx = self._host_idx(name)
        for d in list(self.host_devices[idx]):
            self.remove_device(self.dev_uuids[d])
        self.h.valid[idx] = False
        self.h.up[idx] = False
        self.h.discovered[idx] = False
        self.host_platform.pop(idx, None)
        del self.host_index[name]
        self.host_names[idx] = None
        self._touch_host(idx, struct=True)

    def _host_idx(self, name: str) -> int:
        try:
            return self.host_index[name]
        except KeyError:
            raise KeyError("unknown host %r" % (name,)) from None

    # -- devices -----------------------------------------------------------------------------
    def upsert_device(
        self,
        uuid,
        host,
        vendor,
        model,
        compute_total=1000,
        memory_mb=0,
        compute_used=0,
        memory_used=0,
        healthy=True,
        isolation=frozenset({"none"}),
        generation=0,
    ):
        """Add a device or replace everything known about it (nothing stale is kept)."""
        h_idx = self._host_idx(host)
        idx = self.dev_index.get(uuid)
        if idx is None:
            idx = self.n_devices
            self.n_devices += 1
            self.d.ensure(self.n_devices)
            self.dev_uuids.append(uuid)
            self.dev_isolation.append(frozenset())
            self.dev_links.append(None)
            self.dev_index[uuid] = idx
        else:
            old_host = int(self.d.host[idx])
            self.host_devices[old_host].remove(idx)
            self._refresh_host_capacity(old_host)
        d = self.d
        d.valid[idx] = True
        d.healthy[idx] = bool(healthy)
        d.host[idx] = h_idx
        d.vendor[idx] = self.vendors.id(vendor)
        d.model[idx] = self.models.id(model)
        d.ctot[idx] = compute_total
        d.cfree[idx] = compute_total - compute_used
        d.mtot[idx] = memory_mb
        d.mfree[idx] = memory_mb - memory_used
        d.gen[idx] = generation
        d.whole_free[idx] = compute_used == 0 and memory_used == 0
        self.dev_isolation[idx] = frozenset(isolation)
        self.dev_links[idx] = None
        self.host_devices[h_idx].append(idx)
        self._refresh_host_capacity(h_idx)
        return idx

    def set_topology(self, host: str, links, numa=()) -> None:
        """Record how the cards of ``host`` connect (a driver ``Topology``'s ``links`` and
        ``numa``); multi-card requests then get cards that share the best link (see
        ``pooling.scheduler.topology``). Cards added later have none until the next call."""
        h_idx = self._host_idx(host)
        devs = self.host_devices[h_idx]
        groups = topology.groups_from_links([self.dev_uuids[i] for i in devs], links, numa)
        for i in devs:
            self.dev_links[i] = groups[self.dev_uuids[i]]
        self._touch_host(h_idx, struct=True)

    def remove_device(self, uuid: str) -> None:
        idx = self._dev_idx(uuid)
        h_idx = int(self.d.host[idx])
        self.host_devices[h_idx].remove(idx)
        self.d.valid[idx] = False
        self.d.healthy[idx] = False
        del self.dev_index[uuid]
        self.dev_uuids[idx] = None
        self._refresh_host_capacity(h_idx)

    def set_device_health(self, uuid: str, healthy: bool) -> None:
        idx = self._dev_idx(uuid)
        self.d.healthy[idx] = bool(healthy)
        self._refresh_host_capacity(int(self.d.host[idx]))

    def _dev_idx(self, uuid: str) -> int:
        try:
            return self.dev_index[uuid]
        except KeyError:
            raise KeyError("unknown device %r" % (uuid,)) from None

    def _refresh_host_capacity(self, h_idx: int) -> None:
        devs = [i for i in self.host_devices[h_idx] if self.d.healthy[i]]
        self.h.cfree[h_idx] = int(self.d.cfree[devs].sum()) if devs else 0
        self.h.ctot[h_idx] = int(self.d.ctot[devs].sum()) if devs else 0
        self._touch_host(h_idx, struct=True)

    def _touch_host(self, h_idx: int, struct: bool = False) -> None:
        self.h.ver[h_idx] += 1
        self.version += 1
        if struct:
            self.struct_version += 1
            self._mask_cache.clear()

    # -- claims ------------------------------------------------------------------------------
    def apply(self, placement: Placement) -> None:
        """Take what a committed placement holds (each device's generation goes up by one)."""
        self._change(placement, 1)

    def release(self, placement: Placement) -> None:
        """Give back what a placement held (each device's generation goes up by one)."""
        self._change(placement, -1)

    def _change(self, placement: Placement, sign: int) -> None:
        d = self.d
        for s in placement.slices:
            idx = self._dev_idx(s.device_uuid)
            d.cfree[idx] -= sign * s.compute_milli
            d.mfree[idx] -= sign * s.memory_mb
            d.gen[idx] += 1
            d.whole_free[idx] = d.cfree[idx] == d.ctot[idx] and d.mfree[idx] == d.mtot[idx]
            h_idx = int(d.host[idx])
            if d.healthy[idx]:
                self.h.cfree[h_idx] -= sign * s.compute_milli
            self.host_shapes[h_idx][s.compute_milli] += sign
            self._touch_host(h_idx)
        if placement.cpu_host is not None and (placement.cpu_milli or placement.ram_mb):
            h_idx = self._host_idx(placement.cpu_host)
            self.h.cpu_free[h_idx] -= sign * placement.cpu_milli
            self.h.ram_free[h_idx] -= sign * placement.ram_mb
            self._touch_host(h_idx)

    # -- reads -------------------------------------------------------------------------------
    def device(self, uuid: str) -> DeviceState:
        idx = self._dev_idx(uuid)
        d = self.d
        return DeviceState(
            uuid=uuid,
            host=self.host_names[d.host[idx]],
            vendor=self.vendors.names[d.vendor[idx]],
            model=self.models.names[d.model[idx]],
            compute_total=int(d.ctot[idx]),
            memory_mb=int(d.mtot[idx]),
            compute_used=int(d.ctot[idx] - d.cfree[idx]),
            memory_used=int(d.mtot[idx] - d.mfree[idx]),
            healthy=bool(d.healthy[idx]),
            isolation=self.dev_isolation[idx],
            generation=int(d.gen[idx]),
        )

    def host(self, name: str) -> HostState:
        idx = self._host_idx(name)
        h = self.h
        fabric = int(h.fabric[idx])
        return HostState(
            name=name,
            pool=self.pools.names[h.pool[idx]],
            fabric=None if fabric < 0 else self.fabrics.names[fabric],
            cpu_milli=int(h.cpu[idx]),
            ram_mb=int(h.ram[idx]),
            cpu_used=self._used(h.cpu[idx], h.cpu_free[idx]),
            ram_used=self._used(h.ram[idx], h.ram_free[idx]),
            up=bool(h.up[idx]),
            devices=tuple(self.dev_uuids[i] for i in self.host_devices[idx]),
            platform=self.host_platform.get(idx),
        )

    @property
    def discovered_platforms(self) -> frozenset[str]:
        """The platforms some host of the pool was discovered by (``{'vmware'}``)."""
        return frozenset(self.host_platform.values())

    @property
    def hosts(self) -> list[HostState]:
        return [self.host(n) for n in self.host_names if n is not None]

    @property
    def devices(self) -> list[DeviceState]:
        return [self.device(u) for u in self.dev_uuids if u is not None]

    def device_mask(self, models, vendors, isolation) -> np.ndarray:
        """Devices that are valid, healthy and of an allowed model/vendor/isolation (cached)."""
        key = (models, vendors, isolation)
        mask = self._mask_cache.get(key)
        if mask is None:
            n = self.n_devices
            mask = self.d.valid[:n] & self.d.healthy[:n]
            if models is not None:
                ids = [self.models.ids[m] for m in models if m in self.models.ids]
                mask &= np.isin(self.d.model[:n], ids)
            if vendors is not None:
                ids = [self.vendors.ids[v] for v in vendors if v in self.vendors.ids]
                mask &= np.isin(self.d.vendor[:n], ids)
            if isolation is not None:
                mask &= np.fromiter(
                    (isolation in iso for iso in self.dev_isolation), dtype=bool, count=n
                )
            self._mask_cache[key] = mask
        return mask

    def host_mask(self, pool) -> np.ndarray:
        """Hosts that are valid, up and in ``pool`` (any pool when None) (cached)."""
        key = ("hosts", pool)
        mask = self._mask_cache.get(key)
        if mask is None:
            n = self.n_hosts
            mask = self.h.valid[:n] & self.h.up[:n]
            if pool is not None:
                mask &= self.h.pool[:n] == self.pools.ids.get(pool, -2)
            self._mask_cache[key] = mask
        return mask

    # -- popularity --------------------------------------------------------------------------
    def observe(self, request: Request) -> None:
        """Learn one arrived request's shape (online popularity)."""
        self._observed[request.shape()] += 1
        self.observed_total += 1

    def set_target_workload(self, shapes) -> None:
        """Publish the expected workload: (Request-like shape, weight) pairs, or None to clear."""
        if shapes is None:
            self._target = None
        else:
            self._target = [(_shape_of(s), float(w)) for s, w in shapes]
        self.workload_version += 1

    @property
    def target_workload(self) -> list[tuple[tuple, float]] | None:
        return None if self._target is None else list(self._target)

    def observed_workload(self) -> list[tuple[tuple, float]]:
        """Observed shapes with their counts, most popular first (ties by shape for order)."""
        return sorted(self._observed.items(), key=lambda kv: (-kv[1], _sort_key(kv[0])))


def _shape_of(shape) -> tuple:
    if isinstance(shape, tuple):
        return shape
    return shape.shape()


def _sort_key(shape: tuple) -> tuple:
    cpu, milli, count, models = shape
    return (cpu, milli, count, tuple(sorted(models)) if models else ())
