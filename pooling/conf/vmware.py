"""[vmware] and [vcenter_<name>] options: the vmware platform driver's vCenters.

Each name in ``[vmware] vcenters`` has a group of its own (like Nova's ``[mdev_<type>]``), e.g.::

    [vmware]
    vcenters = vc1

    [vcenter_vc1]
    url = https://vc1.example.com/sdk
    user = pooling@vsphere.local
    password = ...
    ca_file = /etc/pooling/vc1-ca.pem

A consumer ``{platform: vmware, host: vc1, id: vm-42}`` is served by the agent whose
``[agent] host`` is ``vc1`` and whose ``[platforms] enabled`` lists ``vmware``.
"""

from oslo_config import cfg

GROUP = 'vmware'
VCENTER_GROUP = 'vcenter_%s'

OPTS = [
    cfg.ListOpt('vcenters', default=[],
                help='Names of the vCenters this host serves; each has a [vcenter_<name>] '
                     'group. A vmware consumer names one of them as its host.'),
    cfg.StrOpt('vgpu_class', default='c',
               help='NVIDIA vGPU profile class picked when a vGPU names no profile (c compute, '
                    'q workstation, b/a virtual desktops/apps); empty for any.'),
    cfg.DictOpt('profile_map', default={},
                help='Pool profile name to vSphere vGPU profile, e.g. gold:grid_a100-8c; the '
                     'profile must be offered by the VM\'s host and cover the vGPU.'),
]

VCENTER_OPTS = [
    cfg.URIOpt('url', schemes=['https', 'http'],
               help='The vCenter SDK endpoint, e.g. https://vc1.example.com/sdk.'),
    cfg.StrOpt('user', help='vCenter user (needs VirtualMachine.Config.AddRemoveDevice, '
                            '.AdvancedConfig, .Resource and Host.Config.PciPassthru reads).'),
    cfg.StrOpt('password', secret=True, help='Its password.'),
    cfg.StrOpt('ca_file', default='',
               help='CA bundle that signed the vCenter certificate; the system store if empty.'),
    cfg.BoolOpt('insecure', default=False,
                help='Do not verify the vCenter certificate (logged as a warning; tests only).'),
    cfg.FloatOpt('timeout', default=30.0, min=1, help='Seconds per vCenter request.'),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(OPTS, group=GROUP)
    for name in conf[GROUP].vcenters if _parsed(conf) else ():
        conf.register_opts(VCENTER_OPTS, group=VCENTER_GROUP % name)


def _parsed(conf) -> bool:
    try:
        conf[GROUP].vcenters  # noqa: B018 - raises before the config files are read
        return True
    except cfg.Error:
        return False


def driver_options(conf: cfg.ConfigOpts) -> dict:
    """The vmware driver's options (drivers never read config)."""
    register_opts(conf)
    vcenters = {}
    for name in conf[GROUP].vcenters:
        group = conf[VCENTER_GROUP % name]
        vcenters[name] = {'url': group.url, 'user': group.user, 'password': group.password,
                          'ca_file': group.ca_file, 'insecure': group.insecure,
                          'timeout': group.timeout}
    return {'vcenters': vcenters, 'vgpu_class': conf[GROUP].vgpu_class,
            'profile_map': dict(conf[GROUP].profile_map)}


def list_opts():
    return {GROUP: OPTS, VCENTER_GROUP % '<name>': VCENTER_OPTS}
