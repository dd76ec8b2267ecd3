"""The kernel's vGPU interfaces behind one seam, with the sysfs root an option.

Two frameworks create a vGPU on a KVM host, and a host has one or the other:

* **mdev** (VFIO mediated devices): ``/sys/class/mdev_bus/<parent BDF>/mdev_supported_types/
  <type>/{name, available_instances, device_api, create}``; writing a UUID to ``create`` makes
  ``/sys/bus/mdev/devices/<uuid>``, writing ``1`` to its ``remove`` destroys it. The consumer
  gets ``<hostdev type='mdev'>`` with that UUID.
* **vgpu_type** (Linux >= 6.8 with NVIDIA R580, which dropped mdev): each SR-IOV virtual
  function of the card has ``nvidia/creatable_vgpu_types`` (``<id> : <name>`` lines) and
  ``nvidia/current_vgpu_type`` (``0`` = none); writing a type id there turns the VF into that
  vGPU and the consumer gets the VF as ``<hostdev type='pci'>``. Writing ``0`` gives it back --
  but only if the VF still holds *our* type: the same VF path is reused by the next vGPU.

:class:`Sysfs` is the only place that touches files, relative to ``root`` (``/`` on a host, a
temporary tree in tests: this stands in for hardware we cannot have; the layouts above are the
kernel's and NVIDIA's documented ones).
"""

from __future__ import annotations

import dataclasses
import os
import re

from pooling_drivers.platforms import base

_TYPE_LINE = re.compile(r'^\s*(\d+)\s*:\s*(.+?)\s*$')


@dataclasses.dataclass(frozen=True)
class VgpuType:
    """One vGPU type a parent offers: ``id`` (``nvidia-471`` or ``471``), ``name``
    (``GRID A100-4C``), ``available`` instances (``None`` when the framework does not say)."""

    id: str
    name: str
    available: int | None = None


@dataclasses.dataclass(frozen=True)
class Created:
    """A vGPU made on the host: ``framework`` ``mdev`` (``ident`` = mdev UUID) or ``vgpu_type``
    (``ident`` = VF BDF), the ``parent`` card and the ``type_id``."""

    framework: str
    ident: str
    parent: str
    type_id: str

    def as_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)


class Sysfs:
    """Reads and writes under ``root`` (default ``/``)."""

    def __init__(self, root: str = '/') -> None:
        self.root = root or '/'

    def path(self, *parts: str) -> str:
        return os.path.join(self.root, *[p.lstrip('/') for p in parts])

    def read(self, *parts: str) -> str:
        with open(self.path(*parts), encoding='utf-8') as handle:
            return handle.read().strip()

    def write(self, value: str, *parts: str) -> None:
        try:
            with open(self.path(*parts), 'w', encoding='utf-8') as handle:
                handle.write(value)
        except OSError as exc:
            raise base.PlatformError(f'writing {value!r} to {self.path(*parts)}: {exc}') from exc

    def exists(self, *parts: str) -> bool:
        return os.path.exists(self.path(*parts))

    def listdir(self, *parts: str) -> list[str]:
        try:
            return sorted(os.listdir(self.path(*parts)))
        except FileNotFoundError:
            return []

    def link(self, *parts: str) -> str:
        return os.path.basename(os.readlink(self.path(*parts)))


class Mdev:
    """Mediated devices (``mdev_supported_types``)."""

    name = 'mdev'

    def __init__(self, fs: Sysfs) -> None:
        self.fs = fs

    def serves(self, parent: str) -> bool:
        return self.fs.exists('sys/class/mdev_bus', parent, 'mdev_supported_types')

    def types(self, parent: str) -> list[VgpuType]:
        base_dir = ('sys/class/mdev_bus', parent, 'mdev_supported_types')
        found = []
        for type_id in self.fs.listdir(*base_dir):
            name = (self.fs.read(*base_dir, type_id, 'name')
                    if self.fs.exists(*base_dir, type_id, 'name') else type_id)
            available = self.fs.read(*base_dir, type_id, 'available_instances')
            found.append(VgpuType(type_id, name, int(available)))
        return found

    def create(self, parent: str, type_id: str, ident: str) -> Created:
        """Create mdev ``ident`` (a UUID) of ``type_id``; an existing one of that UUID is kept."""
        if not self.fs.exists('sys/bus/mdev/devices', ident):
            self.fs.write(ident, 'sys/class/mdev_bus', parent, 'mdev_supported_types', type_id,
                          'create')
        return Created(self.name, ident, parent, type_id)

    def remove(self, created: Created) -> None:
        """Destroy the mdev; one that is already gone is fine."""
        if self.fs.exists('sys/bus/mdev/devices', created.ident):
            self.fs.write('1', 'sys/bus/mdev/devices', created.ident, 'remove')


class VgpuTypeFramework:
    """NVIDIA's ``current_vgpu_type`` on SR-IOV virtual functions (kernel >= 6.8, R580)."""

    name = 'vgpu_type'

    def __init__(self, fs: Sysfs) -> None:
        self.fs = fs

    def _vfs(self, parent: str) -> list[str]:
        links = [n for n in self.fs.listdir('sys/bus/pci/devices', parent)
                 if n.startswith('virtfn')]
        return [self.fs.link('sys/bus/pci/devices', parent, n)
                for n in sorted(links, key=lambda n: int(n[6:] or 0))]

    def serves(self, parent: str) -> bool:
        return any(self.fs.exists('sys/bus/pci/devices', vf, 'nvidia/current_vgpu_type')
                   for vf in self._vfs(parent))

    def types(self, parent: str) -> list[VgpuType]:
        """The types a free VF can take; ``available`` is the number of free VFs."""
        vfs = [vf for vf in self._vfs(parent)
               if self.fs.exists('sys/bus/pci/devices', vf, 'nvidia/creatable_vgpu_types')]
        if not vfs:
            return []
        free = self._free(parent)
        text = self.fs.read('sys/bus/pci/devices', (free or vfs)[0],
                            'nvidia/creatable_vgpu_types')
        return [VgpuType(m[1], m[2], len(free))
                for m in (_TYPE_LINE.match(line) for line in text.splitlines()) if m]

    def _free(self, parent: str) -> list[str]:
        return [vf for vf in self._vfs(parent)
                if self.fs.exists('sys/bus/pci/devices', vf, 'nvidia/current_vgpu_type')
                and self.fs.read('sys/bus/pci/devices', vf, 'nvidia/current_vgpu_type') == '0']

    def create(self, parent: str, type_id: str, ident: str) -> Created:
        """Give a free VF of ``parent`` the type; ``ident`` is ignored (the VF is the handle)."""
        free = self._free(parent)
        if not free:
            raise base.PlatformError(f'card {parent} has no free virtual function for a vGPU')
        self.fs.write(type_id, 'sys/bus/pci/devices', free[0], 'nvidia/current_vgpu_type')
        return Created(self.name, free[0], parent, type_id)

    def remove(self, created: Created) -> None:
        """Clear the VF's type, only if it still holds the type we gave it."""
        path = ('sys/bus/pci/devices', created.ident, 'nvidia/current_vgpu_type')
        if self.fs.exists(*path) and self.fs.read(*path) == created.type_id:
            self.fs.write('0', *path)


def framework(fs: Sysfs, parent: str, choice: str = 'auto'):
    """The framework that serves ``parent`` (``auto``: whichever the host has).

    :raises pooling_drivers.platforms.base.InvalidRequestError: neither serves the card.
    """
    frameworks = {'mdev': Mdev(fs), 'vgpu_type': VgpuTypeFramework(fs)}
    if choice != 'auto':
        if choice not in frameworks:
            raise base.InvalidRequestError(f'unknown vGPU framework {choice!r}')
        return frameworks[choice]
    for candidate in frameworks.values():
        if candidate.serves(parent):
            return candidate
    raise base.InvalidRequestError(
        f'card {parent} offers no vGPU types under {fs.root}: neither mdev_supported_types nor '
        'SR-IOV VFs with nvidia/current_vgpu_type (vGPU manager not loaded, or VFs not enabled)')


def nvidia_bdf(fs: Sysfs, gpu_uuid: str) -> str | None:
    """The PCI address of the NVIDIA GPU with ``gpu_uuid``, from the driver's /proc files."""
    wanted = gpu_uuid.lower().removeprefix('gpu-')
    for bdf in fs.listdir('proc/driver/nvidia/gpus'):
        try:
            info = fs.read('proc/driver/nvidia/gpus', bdf, 'information')
        except OSError:
            continue
        for line in info.splitlines():
            key, _, value = line.partition(':')
            if key.strip() == 'GPU UUID' and value.strip().lower().removeprefix('gpu-') == wanted:
                return bdf
    return None
