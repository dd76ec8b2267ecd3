"""Handlers for /v1/devices (read-only: agents report devices)."""

from pooling.objects import device as device_obj
from pooling_api import method
from pooling_api import policy
from pooling_api import validation
from pooling_api.policies import devices as policies
from pooling_api.schemas import devices as schemas

_INTERNAL = ('compute_total', 'compute_used', 'memory_used', 'generation',
             'partition_shapes')


def serialize(device: dict) -> dict:
    """Internal milli-cards → the API's percent; capacity, used and free."""
    out = {k: v for k, v in device.items() if k not in _INTERNAL}
    out['capacity'] = {'compute_percent': device['compute_total'] / 10,
                       'memory_mb': device['memory_mb']}
    out['used'] = {'compute_percent': device['compute_used'] / 10,
                   'memory_mb': device['memory_used']}
    out['partitions'] = [{'compute_percent': c / 10, 'memory_mb': m}
                         for c, m in device['partition_shapes']]
    out['free'] = {'compute_percent': (device['compute_total'] - device['compute_used']) / 10,
                   'memory_mb': device['memory_mb'] - device['memory_used']}
    return out


def list_devices(req):
    """GET /v1/devices?pool=&host=&vendor=&model=&health= → 200 {"devices": [...]}."""
    policy.authorize(req, policies.LIST)
    query = validation.query(req, schemas.LIST_QUERY)
    devices = device_obj.list_devices(method.context(req), **query)
    return method.respond(req, 200, {'devices': [serialize(d) for d in devices]})


def show_device(req, ident):
    """GET /v1/devices/{uuid} → 200 device."""
    policy.authorize(req, policies.SHOW)
    return method.respond(req, 200, serialize(device_obj.get_device(method.context(req), ident)))
