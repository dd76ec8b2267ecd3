"""[remoting_lupine]/[remoting_sim] options reach the plugins; probe and upgrade check show them."""

import json
import os
import sys

from oslo_config import cfg
from oslo_upgradecheck import upgradecheck

from pooling import conf as pooling_conf
from pooling.agent import remote
from pooling.cmd import manage
from pooling.cmd import status
from pooling_drivers.remoting import base

STAND_IN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'drivers',
                        'remoting', 'fake_lupine.py')


def make_conf(tmp_path, **lupine):
    conf = cfg.ConfigOpts()
    pooling_conf.register_opts(conf)
    conf([])
    conf.set_override('enabled_drivers', ['nvidia'], group='agent')  # -> lupine
    server = tmp_path / 'bin' / 'lupine_driver_server'
    server.parent.mkdir(exist_ok=True)
    server.write_text(f'#!/bin/sh\nexec {sys.executable} {STAND_IN} "$@"\n')
    server.chmod(0o755)
    conf.set_override('server_path', str(server), group='remoting_lupine')
    for key, value in lupine.items():
        conf.set_override(key, value, group='remoting_lupine')
    return conf


def test_lupine_options_reach_the_plugin(tmp_path):
    conf = make_conf(tmp_path, expected_version='0.9.0-fake', confinement='none',
                     port_range='16000:16010', env={'LUPINE_LOG_LEVEL': 'info'})
    driver = base.load('lupine', remote.backend_options(conf, 'lupine'))
    assert (driver.confinement, driver.port_range) == ('none', (16000, 16010))
    assert driver.options['env'] == {'LUPINE_LOG_LEVEL': 'info'}
    assert driver.probe().ok
    sim_opts = remote.backend_options(conf, 'sim')
    assert sim_opts['listen'] == 'unix' and sim_opts['max_restarts'] == 5


def test_drivers_probe_reports_the_remote_backend(tmp_path, capsys):
    conf = make_conf(tmp_path, expected_version='2.0.0', confinement='none')
    manage._drivers_probe(conf, type('Args', (), {'drivers': 'sim'})())
    entry = json.loads(capsys.readouterr().out)[-1]
    assert entry['name'] == 'remoting:lupine' and not entry['available']
    assert entry['version'] == '0.9.0-fake' and 'not the expected 2.0.0' in entry['reason']


def test_upgrade_check_fails_on_another_version_and_warns_when_missing(tmp_path):
    conf = make_conf(tmp_path, expected_version='2.0.0', confinement='none')
    checks = status.Checks(conf)
    assert checks._check_remoting().code == upgradecheck.Code.FAILURE
    conf.set_override('expected_version', '0.9.0-fake', group='remoting_lupine')
    assert checks._check_remoting().code == upgradecheck.Code.SUCCESS
    conf.set_override('server_path', str(tmp_path / 'missing'), group='remoting_lupine')
    result = checks._check_remoting()
    assert result.code == upgradecheck.Code.WARNING and 'not installed' in result.details
