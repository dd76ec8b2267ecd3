"""Link topology of a host's cards, and the choice of cards for a multi-card vGPU.

A vGPU of N whole cards runs collectives between its cards, so it should get N cards that share
the best link the host has: one NVLink/NVSwitch island (or the vendor's own fabric: HCCS,
xGMI ...), else one PCIe switch, else one host bridge, else one NUMA node. The drivers report a
host's links pairwise (``pooling_drivers.accelerators.types.Topology``: the ``nvidia`` driver
reads them through NVML, ``sim`` derives them from its NUMA halves or takes ``islands``); here
they become, per card, one group label per level (the connected components of the links at
that level or better), which is all the scheduler needs: "these cards share a level-L link" is
"they have the same level-L label".

Choosing among the groups that can hold the request, the tightest level wins, and within it the
group with the fewest fitting cards (best fit), so that a 2-card vGPU does not break into the
only island that could still take a 4-card one.
"""

from __future__ import annotations

from pooling.scheduler.request import LINK_LEVELS

#: link levels a request may demand, best first (``Request.link``).
LEVELS: tuple[str, ...] = LINK_LEVELS

#: driver link kinds (``LINK_KINDS``) -> the best level they provide (index into LEVELS).
_KIND_LEVEL = {
    "nvlink": 0,
    "hccs": 0,
    "mlulink": 0,
    "mtlink": 0,
    "xgmi": 0,
    "xlink": 0,
    "pcie_switch": 1,
    "pcie_hostbridge": 2,
    "numa": 3,
}


def level_index(level: str) -> int:
    try:
        return LEVELS.index(level)
    except ValueError:
        raise ValueError(
            "link level must be one of %s, got %r" % (", ".join(LEVELS), level)
        ) from None


def groups_from_links(uuids, links, numa=()) -> dict[str, tuple[int, ...]]:
    """Per card, one group label per level of :data:`LEVELS`.

    :param uuids: the host's card uuids (their order makes the labels deterministic).
    :param links: objects with ``a``, ``b`` and ``kind`` (driver ``Link``s) or (a, b, kind)
        tuples; kinds outside the levels (``system``) join nothing.
    :param numa: (uuid, NUMA node or None) pairs; cards on one node share the ``numa`` level.
    :returns: ``{uuid: (label per level)}``; a label is the position of the group's first card
        in ``uuids``, so a card linked to nothing has its own.
    """
    order = {u: i for i, u in enumerate(uuids)}
    edges = []
    for link in links:
        a, b, kind = (link.a, link.b, link.kind) if hasattr(link, "kind") else link
        lvl = _KIND_LEVEL.get(kind)
        if lvl is not None and a in order and b in order:
            edges.append((lvl, order[a], order[b]))
    nodes: dict[int, list[int]] = {}
    for u, node in numa:
        if node is not None and u in order:
            nodes.setdefault(node, []).append(order[u])
    for members in nodes.values():
        for other in members[1:]:
            edges.append((3, members[0], other))
    labels = []
    for lvl in range(len(LEVELS)):
        parent = list(range(len(order)))

        def find(x, parent=parent):
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for e_lvl, a, b in edges:
            if e_lvl <= lvl:
                ra, rb = find(a), find(b)
                if ra != rb:
                    parent[max(ra, rb)] = min(ra, rb)
        labels.append([find(i) for i in range(len(order))])
    return {u: tuple(labels[lvl][i] for lvl in range(len(LEVELS))) for u, i in order.items()}


def pick(groups, devs: list[int], count: int, level: str | None = None) -> list[int] | None:
    """``count`` cards of ``devs`` sharing the best link level available.

    :param groups: per device slot its labels (``PoolModel.dev_links``; None = unknown).
    :param devs: the fitting device slots of one host, in device order.
    :param level: the worst level the request accepts (None: any, falling back to
        ``devs[:count]`` when no group holds it).
    :returns: the device slots, or None when ``level`` is demanded and no group holds them.
    """
    if count <= 1 or len(devs) < count:
        return devs[:count] if level is None or count <= 1 else None
    known = [d for d in devs if groups[d] is not None]
    last = len(LEVELS) - 1 if level is None else level_index(level)
    if len(known) >= count:
        for lvl in range(last + 1):
            by_group: dict[int, list[int]] = {}
            for d in known:
                by_group.setdefault(groups[d][lvl], []).append(d)
            fits = [g for g in by_group.values() if len(g) >= count]
            if fits:
                best = min(fits, key=lambda g: (len(g), g[0]))
                return best[:count]
    return devs[:count] if level is None else None


def straddles(groups, devs) -> bool:
    """Whether the cards of one placement span more than one level-0 (NVLink) group (False
    when the topology of a card is unknown)."""
    if any(groups[d] is None for d in devs):
        return False
    return len({groups[d][0] for d in devs}) > 1
