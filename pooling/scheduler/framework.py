"""Filter -> score -> choose: the one decision path shared by the claim path and the benchmark.

``Scheduler.select`` runs the filters vectorised over the whole pool (pool, host up, health,
model/vendor, isolation, free compute and memory, whole cards for multi-card requests, host CPU
and RAM, locality/fabric) and hands the surviving hosts to a policy plugin that picks one host and
its cards. It never mutates the model: the caller applies the placement once its DB transaction
has committed, so the model mirrors the DB.
"""

from __future__ import annotations

import abc

import numpy as np
from stevedore import driver
from stevedore import extension

from pooling.scheduler import topology
from pooling.scheduler.model import PoolModel
from pooling.scheduler.request import NoValidHost
from pooling.scheduler.request import Placement
from pooling.scheduler.request import Request
from pooling.scheduler.request import SliceAssignment

POLICY_NAMESPACE = "pooling.schedulers"


class Candidates:
    """What a policy sees: the request, the feasible hosts (ascending slot = tie order) and the
    per-card fit of every device."""

    __slots__ = (
        "model",
        "request",
        "hosts",
        "fit",
        "whole",
        "cpu_on_device_host",
        "topology_aware",
    )

    def __init__(self, model, request, hosts, fit, whole, cpu_on_device_host, topology_aware=True):
        self.model = model
        self.request = request
        self.hosts = hosts
        self.fit = fit
        self.whole = whole
        # NOTE: False when the workload's CPU/RAM never lands on the device host (a remote
        # placement for a given consumer); policies then leave host CPU out of their scores.
        self.cpu_on_device_host = cpu_on_device_host
        self.topology_aware = topology_aware

    def cards_for(self, devs: list[int]) -> list[int]:
        """The request's cards among ``devs`` (fitting cards of one host, device order): for
        several cards, those sharing the best link the host has (``topology.pick``)."""
        count = self.request.count
        if count > 1 and (self.topology_aware or self.request.link):
            picked = topology.pick(self.model.dev_links, devs, count, self.request.link)
            if picked is not None:
                return picked
        return devs[:count]

    def devices_on(self, h: int) -> list[int]:
        """The fitting device slots of host ``h``, in the host's device order."""
        fit = self.fit
        if fit is None:
            return []
        return [i for i in self.model.host_devices[h] if fit[i]]


class Policy(abc.ABC):
    """A scoring plugin of the ``pooling.schedulers`` namespace."""

    #: True when the policy only hands out whole cards (fractional requests are rounded up).
    whole_cards = False
    #: False to give multi-card requests the first fitting cards in device order (for
    #: comparison only; a request that demands a link level still gets one).
    topology_aware = True

    @abc.abstractmethod
    def choose(self, cand: Candidates) -> tuple[int, list[int]]:
        """Pick one host and its cards.

        :param cand: the feasible hosts (non-empty) and the device fit mask.
        :returns: (host slot, list of ``cand.request.count`` device slots on that host).
        """

    def pick_cards(self, cand: Candidates, h: int) -> list[int]:
        """Default card choice: best fit (least free compute first, then device order)."""
        devs = cand.devices_on(h)
        if cand.request.count == 1 and not cand.whole:
            cfree = cand.model.d.cfree
            devs = sorted(devs, key=lambda i: cfree[i])
        return cand.cards_for(devs)


def known_policies() -> list[str]:
    mgr = extension.ExtensionManager(namespace=POLICY_NAMESPACE, invoke_on_load=False)
    return sorted(mgr.names())


def load_policy(name: str, **options) -> Policy:
    """Load a policy plugin by name; an unknown name raises ValueError listing the known ones."""
    known = known_policies()
    if name not in known:
        raise ValueError(
            "unknown scheduling policy %r; known policies: %s"
            % (name, ", ".join(known) or "(none installed)")
        )
    mgr = driver.DriverManager(
        namespace=POLICY_NAMESPACE, name=name, invoke_on_load=True, invoke_kwds=options
    )
    return mgr.driver


class Scheduler:
    """Decide placements on one ``PoolModel`` with one policy."""

    def __init__(self, model: PoolModel, policy: str | Policy = "default", **options):
        self.model = model
        self.policy = load_policy(policy, **options) if isinstance(policy, str) else policy

    def select(self, request: Request) -> Placement:
        """Return a placement for ``request`` or raise NoValidHost saying why."""
        model = self.model
        req = request
        whole = req.count > 1 or (self.policy.whole_cards and req.count >= 1)
        consumer = None
        if req.consumer_host is not None:
            consumer = model.host_index.get(req.consumer_host)
            if consumer is None or not model.h.valid[consumer]:
                raise NoValidHost("consumer host %s is unknown" % req.consumer_host)
        nh = model.n_hosts
        fit = None
        if req.count:
            fit = self._fit_mask(req, whole)
            on = model.d.host[: model.n_devices][fit]
            if req.count == 1:
                host_ok = np.zeros(nh, dtype=bool)
                host_ok[on] = True
            else:
                host_ok = np.bincount(on, minlength=nh) >= req.count
            host_ok &= model.host_mask(req.pool)
            if req.link is not None:
                self._link_filter(req, fit, host_ok)
        else:
            host_ok = model.host_mask(req.pool).copy()
        cpu_host_fixed, cpu_local, room = self._locality(req, consumer, host_ok)
        if req.count and model.host_platform:
            self._discovered_filter(req, consumer, host_ok)
        hosts = np.flatnonzero(host_ok)
        if not hosts.size:
            raise NoValidHost(lambda: self._explain(req, whole, consumer))
        cand = Candidates(
            model, req, hosts, fit, whole, cpu_local, getattr(self.policy, "topology_aware", True)
        )
        h, devs = self.policy.choose(cand)
        links = model.dev_links
        if req.link is not None and topology.pick(links, devs, req.count, req.link) is None:
            # NOTE: a policy that chose cards without the link: the host has a group that
            # holds the request (the filter made sure), so take it.
            devs = topology.pick(model.dev_links, cand.devices_on(h), req.count, req.link)
        cpu_host = cpu_host_fixed if cpu_host_fixed is not None else self._cpu_host(req, h, room)
        d = model.d
        slices = tuple(
            SliceAssignment(
                model.dev_uuids[i],
                int(d.ctot[i]) if whole else req.compute_milli,
                int(d.mtot[i]) if whole else req.memory_mb,
                int(d.gen[i]),
            )
            for i in devs
        )
        return Placement(
            model.host_names[h], slices, model.host_names[cpu_host], req.cpu_milli, req.ram_mb
        )

    # -- filters -----------------------------------------------------------------------------
    def _fit_mask(self, req: Request, whole: bool) -> np.ndarray:
        model = self.model
        n = model.n_devices
        d = model.d
        fit = model.device_mask(req.models, req.vendors, req.isolation)
        if whole:
            fit = fit & d.whole_free[:n]
            if req.memory_mb:
                fit &= d.mtot[:n] >= req.memory_mb
        else:
            fit = fit & (d.cfree[:n] >= req.compute_milli)
            if req.memory_mb:
                fit &= d.mfree[:n] >= req.memory_mb
        return fit

    def _link_filter(self, req: Request, fit: np.ndarray, host_ok: np.ndarray) -> None:
        """Keep only hosts with ``req.count`` fitting cards that share ``req.link`` or better."""
        model = self.model
        for h in np.flatnonzero(host_ok).tolist():
            devs = [i for i in model.host_devices[h] if fit[i]]
            if topology.pick(model.dev_links, devs, req.count, req.link) is None:
                host_ok[h] = False

    def _discovered_filter(self, req: Request, consumer, host_ok: np.ndarray) -> None:
        """Keep a consumer off the cards of discovered hosts it does not run on.

        A host a platform driver discovered (an ESXi host its vCenter's agent reports) has no
        agent, hence no remoting server: its cards are of use only to consumers running on it
        (the VMs of that ESXi host, attached locally). Every other consumer, and a request
        without consumer, loses them. A consumer that runs on such a host gets its cards
        whenever one fits, even when remote is allowed: local costs no network and keeps the
        remote hosts' cards for consumers that can only use those.
        """
        model = self.model
        on_discovered = consumer is not None and bool(model.h.discovered[consumer])
        own = on_discovered and bool(host_ok[consumer])
        host_ok &= ~model.h.discovered[: model.n_hosts]
        if own and req.locality != "remote-required":
            host_ok[:] = False
            host_ok[consumer] = True

    def _host_room(self, req: Request) -> np.ndarray | None:
        """Hosts with the request's CPU and RAM free (None when the request needs neither)."""
        if not req.cpu_milli and not req.ram_mb:
            return None
        h = self.model.h
        n = self.model.n_hosts
        room = h.cpu_free[:n] >= req.cpu_milli
        if req.ram_mb:
            room &= h.ram_free[:n] >= req.ram_mb
        return room

    def _locality(self, req, consumer, host_ok):
        """Narrow ``host_ok`` in place by locality and host room.

        :returns: (fixed CPU host slot or None, whether CPU lands on the device host,
            the hosts with room for the CPU/RAM or None)
        """
        model = self.model
        room = self._host_room(req)
        if consumer is not None:
            if not model.h.up[consumer] or (room is not None and not room[consumer]):
                host_ok[:] = False
                return consumer, False, room
            fabric = model.h.fabric[consumer]
            if req.locality == "local" or fabric < 0:
                keep = host_ok[consumer] and req.locality != "remote-required"
                host_ok[:] = False
                host_ok[consumer] = keep
                return consumer, True, room
            same = model.h.fabric[: model.n_hosts] == fabric
            if req.locality == "remote-required":
                same[consumer] = False
            host_ok &= same
            return consumer, False, room
        if room is None:
            return None, True, room
        if req.locality == "remote-allowed" and req.count:
            # NOTE: the remote relaxation: the workload may run on another host of the device
            # host's fabric, so a device host only needs some host of its fabric with room.
            fabrics = model.h.fabric[: model.n_hosts]
            roomy = room & model.host_mask(req.pool)
            ok_fabric = np.zeros(len(model.fabrics.names) + 1, dtype=bool)
            ok_fabric[fabrics[roomy] + 1] = True
            ok_fabric[0] = False
            host_ok &= room | ok_fabric[fabrics + 1]
            return None, True, room
        host_ok &= room
        return None, True, room

    def _cpu_host(self, req: Request, h: int, room) -> int:
        """Where the workload runs: the device host when it has room, else (remote relaxation)
        the host of its fabric whose CPU strands the fewest idle cards."""
        if room is None or room[h]:
            return h
        model = self.model
        n = model.n_hosts
        others = np.flatnonzero(
            room & model.host_mask(req.pool) & (model.h.fabric[:n] == model.h.fabric[h])
        )
        idle = model.h.cfree[others]
        return int(others[np.argmin(idle)])

    # -- explanations ------------------------------------------------------------------------
    def _explain(self, req: Request, whole: bool, consumer) -> str:
        """Say which filter emptied the candidate set (slow path, only on failure)."""
        model = self.model
        n = model.n_devices
        where = "pool %s" % req.pool if req.pool else "any pool"
        hosts = model.host_mask(req.pool)
        valid = model.h.valid[: model.n_hosts]
        if req.pool:
            valid = valid & (model.h.pool[: model.n_hosts] == model.pools.ids.get(req.pool, -2))
        if not valid.any():
            return "no host in %s" % where
        if not hosts.any():
            return "no host in %s is up" % where
        if consumer is not None and not model.h.up[consumer]:
            return "consumer host %s is down" % req.consumer_host
        if req.count:
            what = _device_words(req)
            on_up = hosts[model.d.host[:n]]
            static = model.device_mask(req.models, req.vendors, req.isolation) & on_up
            if not static.any():
                return "no healthy device %s on an up host in %s" % (what, where)
            fit = self._fit_mask(req, whole) & on_up
            if not fit.any():
                return "no healthy device %s with %s free" % (what, _need_words(req, whole))
            per_host = np.bincount(model.d.host[:n][fit], minlength=model.n_hosts)
            if req.count > 1 and per_host.max() < req.count:
                return "no host has %d free whole cards %s (at most %d on one host)" % (
                    req.count,
                    what,
                    per_host.max(),
                )
            if model.host_platform and not (consumer is not None and req.locality == "local"):
                fitting = set(np.flatnonzero(per_host).tolist())
                usable = {h for h in fitting if not model.h.discovered[h] or h == consumer}
                if not usable:
                    return (
                        "the devices %s with %s free are all on hosts a platform discovered "
                        "(%s), whose cards serve only consumers running on them; %s"
                        % (
                            what,
                            _need_words(req, whole),
                            ", ".join(sorted(model.host_names[h] for h in fitting)),
                            "consumer host %s is not one of them" % req.consumer_host
                            if req.consumer_host
                            else "this vGPU names no consumer host",
                        )
                    )
            if req.link is not None:
                linked = np.zeros(model.n_hosts, dtype=bool)
                linked[per_host >= req.count] = True
                self._link_filter(req, fit & on_up, linked)
                if not linked.any():
                    return "no host has %d free whole cards %s sharing a %s link or better" % (
                        req.count,
                        what,
                        req.link,
                    )
        room = self._host_room(req)
        if consumer is not None and room is not None and not room[consumer]:
            return "consumer host %s lacks %s" % (req.consumer_host, _room_words(req))
        if consumer is not None:
            if req.locality == "local":
                return "consumer host %s has no device %s with %s free" % (
                    req.consumer_host,
                    _device_words(req),
                    _need_words(req, whole),
                )
            return "no host in the fabric of consumer host %s has a device %s with %s free" % (
                req.consumer_host,
                _device_words(req),
                _need_words(req, whole),
            )
        return "no host with %s also has %s free" % (
            "such devices" if req.count else "room",
            _room_words(req),
        )


def _device_words(req: Request) -> str:
    parts = []
    if req.models is not None:
        parts.append("of model(s) %s" % ", ".join(sorted(req.models)))
    if req.vendors is not None:
        parts.append("of vendor(s) %s" % ", ".join(sorted(req.vendors)))
    if req.isolation is not None:
        parts.append("with %s isolation" % req.isolation)
    return " ".join(parts) if parts else "of any model"


def _need_words(req: Request, whole: bool) -> str:
    if whole:
        return "the whole card" + (" and %d MiB" % req.memory_mb if req.memory_mb else "")
    pct = req.compute_milli / 10
    return "%s %% compute and %d MiB" % (("%g" % pct), req.memory_mb)


def _room_words(req: Request) -> str:
    return "%d milli-CPU and %d MiB RAM" % (req.cpu_milli, req.ram_mb)
