"""oslo-config-generator entry point: every pooling option group."""

from pooling.conf import agent
from pooling.conf import api
from pooling.conf import baremetal
from pooling.conf import conductor
from pooling.conf import gateway
from pooling.conf import libvirt
from pooling.conf import metrics
from pooling.conf import platforms
from pooling.conf import remoting
from pooling.conf import scheduler
from pooling.conf import vmware


def list_opts():
    groups = {}
    for module in (api, agent, baremetal, conductor, gateway, libvirt, metrics, platforms,
                   remoting, scheduler, vmware):
        groups.update(module.list_opts())
    from pooling.cyborg import opts as cyborg_opts

    return list(groups.items()) + cyborg_opts.list_opts()
