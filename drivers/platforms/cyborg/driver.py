"""``PoolingDriver``: one Cyborg deployable per pool profile, slots as inventory.

Cyborg's agent builds each enabled driver with no arguments and calls only
``discover()`` (at start, then every 60 s: the periodic task's fixed spacing;
``[DEFAULT] periodic_interval`` only caps the timer's sleep); the
conductor turns each deployable into a Placement child RP of this compute node
with the deployable's ``rc`` attribute as resource class, ``num_accelerators``
as inventory and its ``trait*`` attributes as traits, and keeps one attach
handle per slot for binds. We ask the pool (``pool.py``) what it can give this
host and translate: that is all this driver does (between two reports
pooling-conductor keeps the inventory's ``reserved`` in step with the pool:
pooling/cyborg/reserved.py). It imports neither pooling
nor pooling_api, and Cyborg only lazily (``to_cyborg``), so the translation is
testable anywhere.

When the pool cannot be asked, the last answer is reported again with
``stub=True``: Cyborg leaves stub devices out of its add/delete diff, so a pool
outage never deletes deployables that hold Nova allocations.
"""

import json
import logging

from pooling_drivers.platforms.cyborg import pool

LOG = logging.getLogger(__name__)
DRIVER_NAME = 'pooling'
MAX_INFO = 255  # Cyborg's attach_info and cpid_info columns


def _json(value: dict) -> str:
    text = json.dumps({k: str(v) for k, v in value.items()}, sort_keys=True,
                      separators=(',', ':'))
    if len(text) > MAX_INFO:
        raise ValueError('%d characters, Cyborg keeps %d: %s' % (len(text), MAX_INFO, text))
    return text


def translate(rp_name: str, pool_host: str, slots: list[dict]) -> list[dict]:
    """Plain-dict devices (Cyborg's driver object fields) from the pool's slots answer.

    One device with one deployable per profile that has at least one slot (a
    Placement inventory cannot be 0).
    """
    devices = []
    for s in slots:
        if s['total'] < 1:
            continue
        attrs = [{'key': 'rc', 'value': s['resource_class']}]
        attrs += [{'key': 'trait%d' % i, 'value': t} for i, t in enumerate(s['traits'])]
        handles = [{'attach_type': h['type'], 'attach_info': _json(h['info']),
                    'in_use': False} for h in s['handles'][:s['total']]]
        devices.append({
            'vendor': 'pooling', 'model': s['profile'], 'type': 'GPU',
            'std_board_info': _json({'profile': s['profile'], 'local': s['local'],
                                     'remote': s['remote']}),
            'vendor_board_info': '',
            'controlpath_id': {'cpid_type': 'PCI',
                               'cpid_info': _json({'pool_host': pool_host,
                                                   'profile': s['profile']})},
            'deployable_list': [{
                'name': '%s_%s' % (rp_name, s['device_profile']),
                'num_accelerators': len(handles), 'driver_name': DRIVER_NAME,
                'attribute_list': attrs, 'attach_handle_list': handles}],
        })
    return devices


def to_cyborg(devices: list[dict], stub: bool = False) -> list:
    """Cyborg's own driver objects (imported here: only cyborg-agent has them)."""
    from cyborg.objects.driver_objects import driver_attach_handle
    from cyborg.objects.driver_objects import driver_attribute
    from cyborg.objects.driver_objects import driver_controlpath_id
    from cyborg.objects.driver_objects import driver_deployable
    from cyborg.objects.driver_objects import driver_device

    out = []
    for d in devices:
        deployables = []
        for dep in d['deployable_list']:
            deployables.append(driver_deployable.DriverDeployable(
                name=dep['name'], num_accelerators=dep['num_accelerators'],
                driver_name=dep['driver_name'],
                attribute_list=[driver_attribute.DriverAttribute(**a)
                                for a in dep['attribute_list']],
                attach_handle_list=[driver_attach_handle.DriverAttachHandle(**h)
                                    for h in dep['attach_handle_list']]))
        out.append(driver_device.DriverDevice(
            vendor=d['vendor'], model=d['model'], type=d['type'],
            std_board_info=d['std_board_info'], vendor_board_info=d['vendor_board_info'],
            controlpath_id=driver_controlpath_id.DriverControlPathID(**d['controlpath_id']),
            deployable_list=deployables, stub=stub))
    return out


class PoolingDriver:
    """The ``cyborg.accelerator.driver`` entry point ``pooling``."""

    def __init__(self, conf=None, client=None):
        if conf is None:
            from oslo_config import cfg

            conf = cfg.CONF  # cyborg-agent's parsed configuration
        pool.register_opts(conf)
        self.conf = conf
        self.client = client or pool.PoolClient(conf)
        self._last = None

    def _names(self):
        host = self.conf.host
        rp_name = host
        try:
            rp_name = self.conf.agent.resource_provider_name or host
        except Exception:  # not running inside cyborg-agent (tests, tools)
            pass
        return rp_name, self.conf[pool.GROUP].pool_host or host

    def discover(self) -> list:
        rp_name, pool_host = self._names()
        try:
            devices = translate(rp_name, pool_host, self.client.slots(pool_host))
        except Exception as err:
            if self._last is None:
                LOG.warning('Pool unreachable and nothing known yet: reporting no devices '
                            '(%s)', err)
                return []
            LOG.warning('Pool unreachable: reporting the last known %d device(s) as stubs '
                        '(%s)', len(self._last), err)
            return to_cyborg(self._last, stub=True)
        self._last = devices
        return to_cyborg(devices)

    # Cyborg's GenericDriver also names these; the agent never calls them.
    def update(self, control_path, image_path):
        return False

    def get_stats(self):
        return {}
