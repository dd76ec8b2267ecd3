"""Loading the enabled accelerator drivers, and what ``drivers probe`` reports."""

import logging

import pytest

from pooling.agent import driver_loader
from pooling_drivers.accelerators.sim import SimDriver

SIM = {'sim': {'host': 'h1', 'devices': 'nvidia:A100-SXM4-80GB:81920:108:2'}}


def test_loads_configured_drivers_with_their_options():
    drivers = driver_loader.load_accelerator_drivers(['sim'], SIM)
    assert len(drivers) == 1 and isinstance(drivers[0], SimDriver)
    assert drivers[0].host == 'h1'


def test_unknown_name_stops_with_the_known_names():
    with pytest.raises(driver_loader.UnknownDriverError) as info:
        driver_loader.load_accelerator_drivers(['sim', 'nvidai'], SIM)
    message = str(info.value)
    assert 'nvidai' in message and 'known: ' in message and 'sim' in message


def test_unavailable_driver_is_logged_and_skipped(caplog):
    options = {'sim': {'unavailable': 'npu-smi not found'}}
    with caplog.at_level(logging.WARNING):
        drivers = driver_loader.load_accelerator_drivers(['sim'], options)
    assert drivers == []
    assert 'npu-smi not found' in caplog.text


def test_bad_options_stop_with_the_driver_named():
    with pytest.raises(ValueError, match="'sim'.*bogus"):
        driver_loader.load_accelerator_drivers(['sim'], {'sim': {'devices': 'bogus'}})


def test_duplicates_and_blanks_are_ignored():
    assert len(driver_loader.load_accelerator_drivers(['sim', ' sim ', ''], SIM)) == 1


def test_probe_reports_devices_profiles_health_and_links():
    report = driver_loader.probe(['sim'], SIM)
    assert [entry['name'] for entry in report] == ['sim']
    entry = report[0]
    assert entry['available'] is True and entry['reason'] == ''
    assert [d['model'] for d in entry['devices']] == ['A100-SXM4-80GB'] * 2
    assert entry['devices'][0]['partition_profiles'][0] == '1g.10gb'
    assert entry['devices'][0]['isolation'] == ['hard', 'firm', 'soft', 'none']
    assert [h['healthy'] for h in entry['health']] == [True, True]
    assert entry['links'][0]['kind'] == 'system'  # one card per NUMA node


def test_probe_reports_unavailable_drivers_too():
    report = driver_loader.probe(['sim'], {'sim': {'unavailable': 'no cards'}})
    assert report == [{'name': 'sim', 'available': False, 'reason': 'no cards',
                       'devices': []}]


def test_known_drivers_lists_sim():
    assert 'sim' in driver_loader.known_drivers()


def test_missing_vendor_library_skips_only_that_driver():
    from pooling_drivers.accelerators.seam import RecordedSeam
    drivers = driver_loader.load_accelerator_drivers(['nvidia', 'sim'], SIM, seam=RecordedSeam())
    assert [d.name for d in drivers] == ['sim']
    report = driver_loader.probe(['nvidia'], {}, seam=RecordedSeam())
    assert report[0]['available'] is False and 'pynvml' in report[0]['reason']


def test_device_report_carries_partition_shapes_for_hard_devices():
    options = {'sim': {'devices': 'nvidia:A100-SXM4-40GB:40960:108:1,metax:C500:65536:104:1'}}
    report = driver_loader.device_report(driver_loader.load_accelerator_drivers(['sim'], options))
    mig, plain = report
    assert mig['driver'] == 'sim' and mig['isolation'] == ['hard', 'firm', 'soft', 'none']
    assert [p['name'] for p in mig['partition_profiles']][0] == '1g.5gb'
    assert mig['partition_profiles'][0]['compute_milli'] == 142
    assert plain['partition_profiles'] == []
