"""Policy rules in code, one module per resource (oslo.policy entry point)."""

import itertools

from pooling_api.policies import devices
from pooling_api.policies import hosts
from pooling_api.policies import pools
from pooling_api.policies import profiles
from pooling_api.policies import quotas
from pooling_api.policies import usage
from pooling_api.policies import vgpus

_MODULES = [pools, hosts, devices, profiles, vgpus, usage, quotas]


def register(module) -> None:
    """Add a resource's policy module (used by resources outside this list)."""
    if module not in _MODULES:
        _MODULES.append(module)


def list_rules():
    return list(itertools.chain.from_iterable(m.list_rules() for m in _MODULES))
