"""[vmware]/[vcenter_<name>], [libvirt] and [baremetal] options → the drivers' options."""

from oslo_config import cfg

from pooling.conf import baremetal
from pooling.conf import libvirt
from pooling.conf import vmware
from pooling_drivers.platforms.vmware import driver as vmware_driver


def _conf(tmp_path, text):
    path = tmp_path / 'pooling.conf'
    path.write_text(text)
    conf = cfg.ConfigOpts()
    vmware.register_opts(conf)
    conf([], default_config_files=[str(path)])
    return conf


def test_each_vcenter_has_its_group_and_tls_is_verified_by_default(tmp_path):
    conf = _conf(tmp_path, '[vmware]\nvcenters = vc1,vc2\nprofile_map = gold:grid_a100-8c\n'
                           '[vcenter_vc1]\nurl = https://vc1.example.com/sdk\nuser = u\n'
                           'password = hunter2\n[vcenter_vc2]\nurl = https://vc2/sdk\nuser = v\n'
                           'ca_file = /etc/ca.pem\n')
    options = vmware.driver_options(conf)
    assert options['profile_map'] == {'gold': 'grid_a100-8c'}
    assert options['vcenters']['vc1']['insecure'] is False
    assert options['vcenters']['vc2']['ca_file'] == '/etc/ca.pem'
    driver = vmware_driver.VmwarePlatform(options)
    assert sorted(driver.vcenters) == ['vc1', 'vc2']
    assert 'hunter2' not in repr(driver.vcenters['vc1'].config)  # the password is not in repr


def test_libvirt_and_baremetal_defaults(tmp_path):
    conf = _conf(tmp_path, '[libvirt]\npci_addresses = d1:0000:41:00.0\n')
    assert libvirt.driver_options(conf)['uri'] == 'qemu:///system'
    assert libvirt.driver_options(conf)['pci_addresses'] == {'d1': '0000:41:00.0'}
    assert baremetal.driver_options(conf) == {'state_dir': '/var/lib/pooling/baremetal'}
