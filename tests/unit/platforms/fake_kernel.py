"""A fake kernel vGPU tree: the sysfs layout of the mdev and ``current_vgpu_type`` frameworks
in a temporary folder, with the kernel's reactions to writes (this stands in for a KVM host
with an NVIDIA vGPU manager, which CI machines do not have).

Card ``0000:41:00.0`` (GPU-aaaaaaaa-...) offers mdev types; card ``0000:42:00.0`` offers its
vGPU types on two SR-IOV VFs (``0000:42:00.4``, ``0000:42:00.5``), the kernel >= 6.8 way.
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil

from pooling_drivers.platforms.libvirt import sysfs

MDEV_CARD, VF_CARD = '0000:41:00.0', '0000:42:00.0'
MDEV_GPU_UUID = 'GPU-aaaaaaaa-1111-2222-3333-444444444444'
TYPES = {'nvidia-471': ('GRID A100-4C', 10), 'nvidia-472': ('GRID A100-8C', 5),
         'nvidia-475': ('GRID A100-40C', 1), 'nvidia-480': ('GRID A100-8Q', 5)}
VF_TYPES = (' ID  : vGPU Name\n 471 : NVIDIA A100-4C\n 472 : NVIDIA A100-8C\n'
            ' 475 : NVIDIA A100-40C\n')
_UUID = re.compile(r'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')


def build(root: pathlib.Path) -> None:
    types = root / 'sys/class/mdev_bus' / MDEV_CARD / 'mdev_supported_types'
    for type_id, (name, count) in TYPES.items():
        (types / type_id).mkdir(parents=True)
        (types / type_id / 'name').write_text(name + '\n')
        (types / type_id / 'available_instances').write_text(f'{count}\n')
        (types / type_id / 'device_api').write_text('vfio-pci\n')
        (types / type_id / 'create').write_text('')
        (types / type_id / 'devices').mkdir()
    (root / 'sys/bus/mdev/devices').mkdir(parents=True)
    info = root / 'proc/driver/nvidia/gpus' / MDEV_CARD
    info.mkdir(parents=True)
    (info / 'information').write_text(
        f'Model: \t\t NVIDIA A100-PCIE-40GB\nGPU UUID: \t {MDEV_GPU_UUID}\n')
    pci = root / 'sys/bus/pci/devices'
    (pci / VF_CARD).mkdir(parents=True)
    for i, vf in enumerate(('0000:42:00.4', '0000:42:00.5')):
        (pci / vf / 'nvidia').mkdir(parents=True)
        (pci / vf / 'nvidia/creatable_vgpu_types').write_text(VF_TYPES)
        (pci / vf / 'nvidia/current_vgpu_type').write_text('0\n')
        os.symlink(f'../{vf}', pci / VF_CARD / f'virtfn{i}')


class FakeKernel(sysfs.Sysfs):
    """Writes behave as the kernel does: ``create`` makes the mdev and takes an instance,
    ``remove`` destroys it and gives the instance back; bad values fail like the kernel's
    -EINVAL / -ENOSPC."""

    def write(self, value: str, *parts: str) -> None:
        path = pathlib.Path(self.path(*parts))
        if path.name == 'create' and path.parent.parent.name == 'mdev_supported_types':
            available = path.parent / 'available_instances'
            left = int(available.read_text())
            if not _UUID.match(value) or left == 0:
                raise sysfs.base.PlatformError(f'writing {value!r} to {path}: EINVAL/ENOSPC')
            device = pathlib.Path(self.path('sys/bus/mdev/devices', value))
            device.mkdir()
            (device / 'mdev_type').write_text(path.parent.name)
            (device / 'remove').write_text('')
            (path.parent / 'devices' / value).mkdir()
            available.write_text(f'{left - 1}\n')
            return
        if path.name == 'remove' and path.parent.parent.name == 'devices':
            type_id = (path.parent / 'mdev_type').read_text()
            types = pathlib.Path(self.path('sys/class/mdev_bus', MDEV_CARD,
                                           'mdev_supported_types', type_id))
            shutil.rmtree(path.parent)
            (types / 'devices' / path.parent.name).rmdir()
            available = types / 'available_instances'
            available.write_text(f'{int(available.read_text()) + 1}\n')
            return
        super().write(value, *parts)

    def mdevs(self) -> list[str]:
        return self.listdir('sys/bus/mdev/devices')
