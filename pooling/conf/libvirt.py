"""[libvirt] options: the libvirt platform driver (vGPUs for domains on a KVM host)."""

from oslo_config import cfg

GROUP = 'libvirt'

OPTS = [
    cfg.StrOpt('uri', default='qemu:///system', help='libvirt connection URI.'),
    cfg.StrOpt('sysfs_root', default='/',
               help='Root under which /sys and /proc are read and written (a container that '
                    'mounts the host\'s at /host sets /host).'),
    cfg.StrOpt('framework', default='auto', choices=['auto', 'mdev', 'vgpu_type'],
               help='How vGPUs are made: mdev (mdev_supported_types), vgpu_type (NVIDIA '
                    'current_vgpu_type on SR-IOV VFs, Linux >= 6.8), auto: what each card has.'),
    cfg.StrOpt('vgpu_class', default='c',
               help='vGPU type class picked when a vGPU names no type (c, q, b, a).'),
    cfg.DictOpt('pci_addresses', default={},
                help='Device uuid to PCI address, for cards without an NVIDIA /proc entry.'),
    cfg.DictOpt('type_map', default={},
                help='Pool profile name to vGPU type id, e.g. gold:nvidia-472.'),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(OPTS, group=GROUP)


def driver_options(conf: cfg.ConfigOpts) -> dict:
    """The libvirt driver's options (drivers never read config)."""
    register_opts(conf)
    group = conf[GROUP]
    return {'uri': group.uri, 'sysfs_root': group.sysfs_root, 'framework': group.framework,
            'vgpu_class': group.vgpu_class, 'pci_addresses': dict(group.pci_addresses),
            'type_map': dict(group.type_map)}


def list_opts():
    return {GROUP: OPTS}
