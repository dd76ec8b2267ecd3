"""The Cyborg driver's translation of the pool's slots into Cyborg's driver objects."""

import json

from oslo_config import cfg
import pytest

from pooling_drivers.platforms.cyborg import driver
from pooling_drivers.platforms.cyborg import pool

SLOTS = [
    {'profile': 'a100-whole', 'device_profile': 'pool-a100-whole',
     'resource_class': 'CUSTOM_POOL_A100_WHOLE',
     'traits': ['CUSTOM_POOLING', 'CUSTOM_POOL_PROFILE_A100_WHOLE'],
     'total': 2, 'in_use': 0, 'local': 2, 'remote': 0,
     'handles': [{'type': 'PCI', 'info': {'domain': '0000', 'bus': '3b', 'device': '00',
                                          'function': '0', 'pool_device': 'dev-1'}},
                 {'type': 'PCI', 'info': {'domain': '0000', 'bus': '5e', 'device': '00',
                                          'function': '0', 'pool_device': 'dev-2'}}]},
    {'profile': 'quarter', 'device_profile': 'pool-quarter',
     'resource_class': 'CUSTOM_POOL_QUARTER', 'traits': ['CUSTOM_POOLING'],
     'total': 3, 'in_use': 1, 'local': 1, 'remote': 2,
     'handles': [{'type': 'TEST_PCI', 'info': {'pool_slot': 'h1/quarter/%d' % i}}
                 for i in range(3)]},
    {'profile': 'empty', 'device_profile': 'pool-empty', 'resource_class': 'CUSTOM_POOL_EMPTY',
     'traits': ['CUSTOM_POOLING'], 'total': 0, 'in_use': 0, 'local': 0, 'remote': 0,
     'handles': []},
]


class FakePool:
    def __init__(self, answers):
        self.answers = list(answers)
        self.asked = []

    def slots(self, host):
        self.asked.append(host)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def _conf(**pooling):
    conf = cfg.ConfigOpts()
    conf.register_opts([cfg.StrOpt('host', default='compute-1')])
    pool.register_opts(conf)
    pool.register_opts(conf)  # the agent may build the driver twice
    conf([])
    for key, value in pooling.items():
        conf.set_override(key, value, group='pooling')
    return conf


def test_one_deployable_per_profile_with_slots_as_inventory():
    devices = driver.translate('compute-1', 'compute-1', SLOTS)
    assert [d['model'] for d in devices] == ['a100-whole', 'quarter']  # total 0 is skipped
    whole, quarter = devices
    (dep,) = whole['deployable_list']
    assert dep['name'] == 'compute-1_pool-a100-whole'
    assert dep['num_accelerators'] == 2 == len(dep['attach_handle_list'])
    assert dep['attribute_list'] == [
        {'key': 'rc', 'value': 'CUSTOM_POOL_A100_WHOLE'},
        {'key': 'trait0', 'value': 'CUSTOM_POOLING'},
        {'key': 'trait1', 'value': 'CUSTOM_POOL_PROFILE_A100_WHOLE'}]
    pci = json.loads(dep['attach_handle_list'][0]['attach_info'])
    assert dep['attach_handle_list'][0]['attach_type'] == 'PCI'
    assert pci == {'bus': '3b', 'device': '00', 'domain': '0000', 'function': '0',
                   'pool_device': 'dev-1'}
    handles = quarter['deployable_list'][0]['attach_handle_list']
    assert {h['attach_type'] for h in handles} == {'TEST_PCI'}
    assert [json.loads(h['attach_info'])['pool_slot'] for h in handles] == [
        'h1/quarter/0', 'h1/quarter/1', 'h1/quarter/2']
    assert json.loads(quarter['controlpath_id']['cpid_info']) == {
        'pool_host': 'compute-1', 'profile': 'quarter'}
    assert quarter['controlpath_id']['cpid_type'] == 'PCI'


def test_attach_info_over_cyborg_column_is_refused():
    big = dict(SLOTS[1], handles=[{'type': 'TEST_PCI', 'info': {'pool_slot': 'x' * 300}}],
               total=1)
    with pytest.raises(ValueError):
        driver.translate('c', 'c', [big])


def test_discover_asks_for_its_host_and_keeps_last_answer_as_stub(monkeypatch):
    built = []
    monkeypatch.setattr(driver, 'to_cyborg', lambda devs, stub=False: built.append(
        (len(devs), stub)) or devs)
    fake = FakePool([SLOTS, RuntimeError('pool down')])
    drv = driver.PoolingDriver(conf=_conf(pool_host='gpu-host-7'), client=fake)
    assert len(drv.discover()) == 2
    drv.discover()
    assert fake.asked == ['gpu-host-7', 'gpu-host-7']
    assert built == [(2, False), (2, True)]


def test_discover_without_any_answer_reports_nothing():
    drv = driver.PoolingDriver(conf=_conf(), client=FakePool([RuntimeError('down')]))
    assert drv.discover() == []
    assert drv.update(None, None) is False and drv.get_stats() == {}


def test_cyborg_driver_objects_accept_our_devices():
    """Against Cyborg's own objects: runs where Cyborg is installed (the e2e venv)."""
    pytest.importorskip('cyborg.objects.driver_objects.driver_device')
    import cyborg.objects

    cyborg.objects.register_all()  # what cyborg-agent does at start
    objs = driver.to_cyborg(driver.translate('compute-1', 'compute-1', SLOTS), stub=True)
    assert [o.model for o in objs] == ['a100-whole', 'quarter']
    dep = objs[1].deployable_list[0]
    assert dep.num_accelerators == 3 and objs[1].stub
    assert dep.attach_handle_list[0].attach_type == 'TEST_PCI'
    assert objs[0].deployable_list[0].attribute_list[0].key == 'rc'
