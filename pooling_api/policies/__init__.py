"""Policy rules in code, one module per resource (oslo.policy entry point)."""

import itertools

from pooling_api.policies import capacity
from pooling_api.policies import devices
from pooling_api.policies import hosts
from pooling_api.policies import leases
from pooling_api.policies import metrics
from pooling_api.policies import pools
from pooling_api.policies import profiles
from pooling_api.policies import quotas
from pooling_api.policies import slots
from pooling_api.policies import usage
from pooling_api.policies import vendordata
from pooling_api.policies import vgpus
from pooling_api.policies import whatif

_MODULES = [pools, hosts, devices, profiles, vgpus, usage, capacity, quotas, slots,
            vendordata, leases, metrics, whatif]



def list_rules():
    return list(itertools.chain.from_iterable(m.list_rules() for m in _MODULES))
