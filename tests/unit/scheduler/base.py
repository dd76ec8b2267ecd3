"""Small crafted pools shared by the scheduler tests."""

from pooling.scheduler import PoolModel


def pool(hosts, model="A100", memory_mb=40000, **host_kw):
    """A model with ``hosts`` = {name: number of cards} (cards named NAME-dI)."""
    m = PoolModel()
    for name, cards in hosts.items():
        m.add_host(name, **host_kw)
        for i in range(cards):
            m.upsert_device("%s-d%d" % (name, i), name, "nvidia", model, memory_mb=memory_mb)
    return m


def take(model, scheduler, request):
    """Select and apply, as the claim path does after its commit."""
    placement = scheduler.select(request)
    model.apply(placement)
    return placement
