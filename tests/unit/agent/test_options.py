"""Every documented agent option reaches what it configures (one test per option group)."""

from pooling import conf as pooling_conf
from pooling.agent import manager
from pooling.agent import remote
from pooling.agent import slices
from pooling_drivers.accelerators.seam import RecordedSeam
from pooling_drivers.accelerators.sim import SimDriver
from pooling_drivers.isolation import plain


def _conf(**groups):
    conf = pooling_conf.new_conf([])
    for group, values in groups.items():
        for key, value in values.items():
            conf.set_override(key, value, group=group)
    return conf


def test_agent_group_reaches_the_sim_driver_and_the_state_dirs(tmp_path):
    conf = _conf(agent={'host': 'h9', 'sim_devices': 'nvidia:T4:15360:40:1',
                        'sim_health_file': '/h.json', 'state_dir': str(tmp_path)})
    sim = manager.driver_options(conf)['sim']
    assert sim == {'host': 'h9', 'devices': 'nvidia:T4:15360:40:1', 'health_file': '/h.json',
                   'state_file': '%s/h9/sim-partitions.json' % tmp_path}
    assert manager.preparer_options(conf)['state_dir'] == '%s/h9/slices' % tmp_path


def test_nvidia_and_hygon_groups_reach_their_drivers():
    conf = _conf(agent={'enabled_drivers': ['sim', 'nvidia', 'hygon']},
                 nvidia={'ignored_xids': ['13', '79']}, hygon={'library': '/opt/libhydmi.so'})
    options = manager.driver_options(conf)
    assert options['nvidia'] == {'ignored_xids': '13,79'}
    assert options['hygon'] == {'library': '/opt/libhydmi.so'}


def test_isolation_mps_and_hami_groups_reach_the_plugins(tmp_path):
    conf = _conf(isolation={'plugins': {'nvidia:soft': 'none'}},
                 mps={'control': '/opt/mps-control', 'run_dir': '/run/x'},
                 hami={'preload_library': '/opt/libvgpu.so', 'core_policy': 'force'})
    options = manager.preparer_options(conf)
    seam = RecordedSeam()
    driver = SimDriver({'host': 'h', 'devices': 'nvidia:T4:15360:40:1'}, seam=seam)
    preparer = slices.SlicePreparer([driver], options, seam=seam)
    mps = preparer._plugin('mps')
    assert isinstance(mps, plain.MpsPlugin)
    assert mps._control() == '/opt/mps-control' and mps._dirs('d')[0] == '/run/x/d/pipe'
    assert preparer._plugin('hami').options['core_policy'] == 'force'
    device = driver.discover()[0]
    assert preparer.plugin_name(device, 'soft') == 'none'


def test_gateway_and_remoting_options_reach_the_remote_side(tmp_path):
    conf = _conf(agent={'host': 'gpu-1', 'enabled_drivers': ['sim'], 'state_dir': str(tmp_path)},
                 gateway={'advertise_host': 'gpu-1.example', 'port': 0})
    side = remote.RemoteSlices(conf, on_failed=lambda *a: None)
    assert side.name == 'sim' and side.advertise == 'gpu-1.example'
    conf.set_override('enabled_drivers', ['nvidia'], group='agent')
    assert remote.backend_name(conf) == 'lupine'
    conf.set_override('remoting_backend', 'fake', group='agent')
    assert remote.backend_name(conf) == 'fake'


def test_firm_is_not_advertised_without_the_mps_control_program():
    seam = RecordedSeam()
    driver = SimDriver({'host': 'h', 'devices': 'nvidia:A100-SXM4-80GB:81920:108:1'}, seam=seam)
    preparer = slices.SlicePreparer([driver], {}, seam=seam)
    device = driver.discover()[0]
    assert 'firm' in device.isolation
    assert preparer.enforceable(device.uuid, device.isolation) == ['hard', 'soft', 'none']
    seam.tools.add('nvidia-cuda-mps-control')
    preparer = slices.SlicePreparer([driver], {}, seam=seam)
    assert 'firm' in preparer.enforceable(device.uuid, device.isolation)


def test_sim_partitions_outlive_the_driver(tmp_path):
    state = str(tmp_path / 'sim.json')
    first = SimDriver({'host': 'h', 'devices': 'nvidia:A100-SXM4-80GB:81920:108:1',
                       'state_file': state})
    device = first.discover()[0]
    part = first.create_partition(device.uuid, first.partition_profiles(device.uuid)[0].name)
    second = SimDriver({'host': 'h', 'devices': 'nvidia:A100-SXM4-80GB:81920:108:1',
                        'state_file': state})
    assert [p.uuid for p in second.partitions(device.uuid)] == [part.uuid]
    second.destroy_partition(device.uuid, part.uuid)
    assert SimDriver({'host': 'h', 'devices': 'nvidia:A100-SXM4-80GB:81920:108:1',
                      'state_file': state}).partitions(device.uuid) == []


def test_remoting_groups_reach_the_backend_plugin(tmp_path):
    conf = _conf(agent={'enabled_drivers': ['sim']},
                 remoting_sim={'run_dir': str(tmp_path / 'sim-run')},
                 remoting_lupine={'server_path': '/opt/l/bin/lupine_driver_server',
                                  'expected_version': '1.2.3'})
    side = remote.RemoteSlices(conf, on_failed=lambda *a: None)
    assert side.driver.run_dir == str(tmp_path / 'sim-run')
    lupine = remote.backend_options(conf, 'lupine')
    assert lupine['server_path'] == '/opt/l/bin/lupine_driver_server'
    assert lupine['expected_version'] == '1.2.3'


def test_heartbeat_carries_the_gateway_counters_of_admitted_leases(tmp_path):
    import ssl

    from pooling.gateway import server as gateway_server
    from pooling_drivers.remoting import base as remoting_base

    conf = _conf(agent={'host': 'gpu-1', 'enabled_drivers': ['sim']})
    side = remote.RemoteSlices(conf, on_failed=lambda *a: None)
    assert side.counters() == []  # no gateway yet: nothing counted
    side.gateway = gateway_server.Gateway(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), port=0)
    backend = remoting_base.BackendEndpoint('tcp', '127.0.0.1', 9)
    side.gateway.admit('lease-a', 'a' * 64, backend)
    side._records = {'lease-a': {'vgpu_uuid': 'v-a'}, 'lease-b': {'vgpu_uuid': 'v-b'}}
    side.gateway._leases['lease-a'].bytes_in = 7  # what the splice counts
    got = side.counters()
    # lease-b has no credential in the gateway (not issued or revoked): not reported.
    assert [(c['lease_id'], c['vgpu_uuid'], c['bytes_in'], c['bytes_out']) for c in got] == [
        ('lease-a', 'v-a', 7, 0)]
    assert set(got[0]) >= {'connections', 'connections_total', 'last_use'}
    # Revoked between two heartbeats: its last counters go once with the next one.
    side.gateway._leases['lease-a'].bytes_out = 5
    side._revoke(side.gateway, 'lease-a')
    assert 'lease-a' not in side.gateway.leases()
    last = side.counters()
    assert [(c['lease_id'], c['bytes_in'], c['bytes_out'], c['connections']) for c in last] == [
        ('lease-a', 7, 5, 0)]
    assert side.counters() == []
