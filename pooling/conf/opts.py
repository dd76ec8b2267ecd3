"""oslo-config-generator entry point: every pooling option group."""

from pooling.conf import agent
from pooling.conf import api
from pooling.conf import conductor
from pooling.conf import metrics
from pooling.conf import scheduler


def list_opts():
    groups = {}
    for module in (api, agent, conductor, scheduler, metrics):
        groups.update(module.list_opts())
    from pooling.cyborg import opts as cyborg_opts

    return list(groups.items()) + cyborg_opts.list_opts()
