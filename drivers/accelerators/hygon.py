"""``hygon``: Hygon DCUs through ``hy-smi --json``, with vDCUs made through ``libhydmi.so``.

Inventory is ``hy-smi``'s rocm-smi-style JSON (one ``card<N>`` object per DCU).  When the
device-management library ``libhydmi.so`` loads, each DCU also advertises ``hard`` isolation:
a vDCU is a free-size slice of the card (compute units + memory) made with
``dmiCreateVDevices``, listed with ``dmiGetVDeviceInfo`` and destroyed with
``dmiDestroySingleVDevice``.  Without the library the driver still discovers the cards, whole
(isolation ``none``), and says plainly that it cannot make vDCUs.

The C contract below was learnt from the headers and cgo bindings published in
``Project-HAMi/dcu-dcgm`` (commit ``e8fdd4be5e29b5cfc5133707c7e3da24479934bb``):

* ``pkg/dcgm/include/dmi_virtual.h`` (last changed in ``dcfa62756e86``): the ``dmiDeviceInfo``
  struct (:class:`DmiDeviceInfo`) and the prototypes in :data:`PROTOTYPES`;
* ``pkg/dcgm/include/dmi_error.h`` (same commit): ``DMI_NAME_SIZE`` = 256 and the
  ``dmiStatus`` codes (:data:`STATUS`), plus ``dmiGetStatusString``;
* ``pkg/dcgm/device_info.go`` and ``api.go`` (``AllDeviceInfos``): how vDCUs are listed (ids
  probed one by one, ``dmiDeviceInfo.device_id`` names the physical card, which the bindings key
  by the same index as rocm-smi / hy-smi cards), and that ``dmiCreateVDevices`` returns no ids
  (the bindings diff ``/etc/vdev``; we diff the library's own vDCU listing instead).

Units: CUs are counts; ``dmiCreateVDevices``' memory array is in MiB (``int``; the header says
MiB for ``dmiUpdateSingleVDevice``, and HAMi's device plugin passes the pod's MiB request), while
``dmiDeviceInfo`` and ``dmiGetDeviceRemainingInfo`` report bytes (``size_t``).  vDCU ``N``'s
config file is ``/etc/vdev/vdev<N>.conf`` (HAMi's dcu-vgpu-device-plugin mounts it as is).

The library is reached only through ``seam.library('ctypes')`` (its ``CDLL``), so tests hand in
a stand-in that answers with these same structures and status codes.
"""

from __future__ import annotations

import ctypes
import json
import re
from typing import Any

from pooling_drivers.accelerators import cli
from pooling_drivers.accelerators import errors
from pooling_drivers.accelerators.types import Partition
from pooling_drivers.accelerators.types import PartitionProfile

#: ``DMI_NAME_SIZE`` of ``dmi_error.h``.
DMI_NAME_SIZE = 256
#: Names tried for the library, after the ``library`` option (``/opt/hyhal/lib`` is where the
#: Hygon HAL installs it).
LIBRARY_NAMES = ('libhydmi.so', 'libhydmi.so.1', '/opt/hyhal/lib/libhydmi.so')
#: vDCUs per card assumed when ``dmiGetMaxVDeviceCount`` fails (dcu-dcgm probes 4 per card).
DEFAULT_MAX_VDEVICES = 4
_MIB = 1024 * 1024


class DmiDeviceInfo(ctypes.Structure):
    """``dmiDeviceInfo`` of ``dmi_virtual.h`` (Project-HAMi/dcu-dcgm@e8fdd4be), for cards and
    vDCUs alike: name, CU count, global and used memory in bytes, bound container (vDCUs only)
    and the physical card number."""

    _fields_ = [
        ('name', ctypes.c_char * DMI_NAME_SIZE),
        ('compute_unit_count', ctypes.c_int),
        ('global_mem_size', ctypes.c_size_t),
        ('usage_mem_size', ctypes.c_size_t),
        ('container_id', ctypes.c_uint64),
        ('device_id', ctypes.c_int),
    ]


#: ``dmiStatus`` of ``dmi_error.h`` (Project-HAMi/dcu-dcgm@e8fdd4be), the values this driver
#: acts on; every call returns one (``0`` is success).
STATUS = {
    'SUCCESS': 0, 'ERROR': 1, 'NO_MEMORY': 2, 'OPEN_MKFD_FAILED': 3, 'MKFD_ALREADY_OPENED': 4,
    'SYS_NODE_NOT_EXIST': 5, 'NOT_SUPPORTED': 6, 'MKFD_NOT_OPENED': 7, 'CREATE_VDEV_FAILED': 8,
    'DESTROY_VDEV_FAILED': 9, 'INVALID_ARGUMENTS': 10, 'OUT_OF_RESOURCES': 11,
    'QUERY_VDEV_INFO_FAILED': 12, 'ERROR_NOT_INITIALIZED': 13, 'DEVICE_NOT_SUPPORT': 14,
    'VDEV_NOT_EXIST': 15, 'INIT_DEVICE_FAILED': 16, 'DEVICE_BUSY': 17, 'PERMISSION': 19,
    'INSUFFICIENT_SIZE': 24,
}
_CAPACITY = (STATUS['OUT_OF_RESOURCES'], STATUS['INSUFFICIENT_SIZE'])
_UNSUPPORTED = (STATUS['NOT_SUPPORTED'], STATUS['DEVICE_NOT_SUPPORT'])

_INT_P = ctypes.POINTER(ctypes.c_int)
_SIZE_P = ctypes.POINTER(ctypes.c_size_t)
_INFO_P = ctypes.POINTER(DmiDeviceInfo)
#: C prototypes (``dmiStatus`` is an ``int`` enum), as declared in ``dmi_virtual.h`` /
#: ``dmi_error.h``.
PROTOTYPES: dict[str, list[Any]] = {
    'dmiGetDeviceCount': [_INT_P],
    'dmiGetDeviceInfo': [ctypes.c_int, _INFO_P],
    'dmiGetMaxVDeviceCount': [_INT_P],
    'dmiGetDeviceRemainingInfo': [ctypes.c_int, _SIZE_P, _SIZE_P],
    'dmiGetVDeviceInfo': [ctypes.c_int, _INFO_P],
    'dmiCreateVDevices': [ctypes.c_int, ctypes.c_int, _INT_P, _INT_P],
    'dmiDestroySingleVDevice': [ctypes.c_int],
    'dmiGetStatusString': [ctypes.c_int, ctypes.POINTER(ctypes.c_char_p)],
}

_VDEV_ID = re.compile(r'^(?:vdev)?(\d+)$')


class DmiError(errors.DriverError):
    """A ``libhydmi`` call returned a status other than success."""

    def __init__(self, call: str, status: int, text: str) -> None:
        super().__init__(f'{call} returned dmiStatus {status} ({text})')
        self.call = call
        self.status = status


def vdev_conf(vdev_id: int) -> str:
    """Return the config file the Hygon stack writes for a vDCU.

    :param vdev_id: the vDCU id.
    :returns: ``/etc/vdev/vdev<id>.conf``.
    """
    return f'/etc/vdev/vdev{vdev_id}.conf'


class HygonDriver(cli.CliDriver):
    """Hygon DCUs (Z100, K100-AI, BW) through ``hy-smi --json``, vDCUs through ``libhydmi``.

    Options: ``library`` (path of ``libhydmi.so`` when it is not on the loader's path),
    ``compute_units`` (as every CLI driver).
    """

    name = 'hygon'
    vendor = 'hygon'
    tool = 'hy-smi'
    inventory = ('--showproductname', '--showbus', '--showmeminfo', 'vram', '--showuse',
                 '--showuniqueid', '--showdriverversion', '--json')
    # Compute units per card; unverified vendor spec figures (libhydmi's count wins if loaded).
    models = (('K100_AI', 120), ('K100-AI', 120), ('K100', 120), ('Z100', 64), ('BW', 80))
    profile_name = 'vdcu'

    def __init__(self, options=None, seam=None) -> None:
        super().__init__(options, seam)
        self._lib: Any = None
        self._lib_error = ''

    # -- the library ------------------------------------------------------------------------

    def hydmi(self) -> Any:
        """Load ``libhydmi.so`` once, through the seam, and declare its prototypes.

        :returns: the library handle.
        :raises pooling_drivers.accelerators.errors.DriverUnavailableError: it cannot be loaded.
        """
        if self._lib is not None:
            return self._lib
        try:
            loader = self.seam.library('ctypes')
        except errors.DriverUnavailableError as exc:
            raise errors.DriverUnavailableError(f'libhydmi.so cannot be loaded: {exc}') from exc
        names = [self.options['library']] if self.options.get('library') else []
        tried = []
        for name in names + list(LIBRARY_NAMES):
            try:
                lib = loader.CDLL(name)
            except OSError as exc:
                tried.append(f'{name}: {exc}')
                continue
            try:
                for func, argtypes in PROTOTYPES.items():
                    getattr(lib, func).argtypes = argtypes
                    getattr(lib, func).restype = ctypes.c_int
            except AttributeError as exc:
                tried.append(f'{name}: lacks {exc}')
                continue
            self._lib = lib
            return lib
        raise errors.DriverUnavailableError('libhydmi.so cannot be loaded: ' + '; '.join(tried))

    def has_vdcu(self) -> bool:
        """Say whether ``libhydmi`` is loadable here (so vDCUs can be made)."""
        try:
            self.hydmi()
        except errors.DriverUnavailableError as exc:
            self._lib_error = str(exc)
            return False
        return True

    def _call(self, func: str, *args: Any) -> None:
        lib = self.hydmi()
        status = int(getattr(lib, func)(*args))
        if status != STATUS['SUCCESS']:
            raise DmiError(func, status, self._status_text(status))

    def _status_text(self, status: int) -> str:
        text = ctypes.c_char_p()
        try:
            if int(self._lib.dmiGetStatusString(status, ctypes.pointer(text))) == 0 and text.value:
                return text.value.decode('utf-8', 'replace')
        except (AttributeError, ctypes.ArgumentError):
            pass
        names = {code: key for key, code in STATUS.items()}
        return f'DMI_STATUS_{names[status]}' if status in names else 'unknown status'

    def _card_info(self, dmi_index: int) -> DmiDeviceInfo:
        info = DmiDeviceInfo()
        self._call('dmiGetDeviceInfo', dmi_index, ctypes.pointer(info))
        return info

    def _max_vdevices(self) -> int:
        count = ctypes.c_int()
        try:
            self._call('dmiGetMaxVDeviceCount', ctypes.pointer(count))
        except DmiError:
            return DEFAULT_MAX_VDEVICES
        return count.value if count.value > 0 else DEFAULT_MAX_VDEVICES

    def _vdevices(self) -> list[tuple[int, DmiDeviceInfo]]:
        """List every vDCU on the host as ``(vdev id, info)``.

        The library has no list call and ``dmiGetVDeviceCount`` counts rather than names them,
        so ids are probed up to cards × the per-card maximum, as dcu-dcgm's ``AllDeviceInfos``
        does; ``DMI_STATUS_VDEV_NOT_EXIST`` marks a free id.
        """
        cards = ctypes.c_int()
        self._call('dmiGetDeviceCount', ctypes.pointer(cards))
        found = []
        for vdev in range(max(cards.value, 0) * self._max_vdevices()):
            info = DmiDeviceInfo()
            try:
                self._call('dmiGetVDeviceInfo', vdev, ctypes.pointer(info))
            except DmiError as exc:
                if exc.status == STATUS['VDEV_NOT_EXIST']:
                    continue
                raise errors.DriverError(f'cannot list vDCU {vdev}: {exc}') from exc
            found.append((vdev, info))
        return found

    # -- discovery --------------------------------------------------------------------------

    def parse(self, output):
        try:
            data = json.loads(output)
        except ValueError as exc:
            raise errors.DriverUnavailableError(f'hy-smi printed no JSON: {exc}') from exc
        if not isinstance(data, dict):
            raise errors.DriverUnavailableError('hy-smi printed no JSON object')
        rows = []
        for key in sorted(data, key=lambda k: cli.to_int(k[4:], 1 << 30)):
            if re.match(r'^card\d+$', key) and isinstance(data[key], dict):
                rows.append({'_card': key[4:], **{k: str(v) for k, v in data[key].items()}})
        system = data.get('system') if isinstance(data.get('system'), dict) else {}
        for row in rows:
            row.setdefault('_driver', str(system.get('Driver version', '')))
        return rows

    @staticmethod
    def _field(row: dict[str, str], *names: str) -> str:
        lowered = {key.lower(): value for key, value in row.items()}
        for name in names:
            if lowered.get(name.lower()):
                return lowered[name.lower()]
        return ''

    def discover(self):
        hard = self.has_vdcu()
        devices = []
        for position, row in enumerate(self.rows()):
            try:
                devices.append(self._row_to_device(position, row, hard))
            except (KeyError, ValueError) as exc:
                cli.LOG.warning('hy-smi: device row %s unreadable (%s): %r', position, exc, row)
        return devices

    def row_to_device(self, position, row):
        return self._row_to_device(position, row, self.has_vdcu())

    def _row_to_device(self, position, row, hard):
        pci = cli.pci_address(self._field(row, 'PCI Bus'))
        model = self._field(row, 'Card series', 'Card model', 'Card SKU') or 'unknown'
        index = int(row['_card'])
        units = None
        if hard and not self.options.get('compute_units'):
            try:
                units = self._card_info(index).compute_unit_count or None
            except DmiError:
                units = None
        return self.device(
            uuid=self.stable_uuid('', self._field(row, 'Unique ID') or pci), model=model,
            pci=pci, memory_mb=cli.to_mib(self._field(row, 'VRAM Total Memory (B)'), 'B'),
            index=index, driver_version=row.get('_driver', '') or self._field(row,
                                                                               'Driver version'),
            isolation=('hard', 'none') if hard else ('none',), compute_units=units)

    # -- vDCUs ------------------------------------------------------------------------------

    def _require(self, device_uuid: str):
        device = self._device(device_uuid)
        if 'hard' not in device.isolation:
            raise errors.NotSupportedError(
                f'the {self.name} driver cannot make vDCUs here: {self._lib_error}')
        return device

    def partition_profiles(self, device_uuid):
        device = self._device(device_uuid)
        if 'hard' not in device.isolation:
            return []
        return [PartitionProfile(
            name=self.profile_name, profile_id=0, memory_mb=device.memory_mb,
            compute_units=device.compute_units, compute_milli=1000,
            max_instances=self._max_vdevices(), custom=True)]

    def _partition(self, device, vdev: int, info: DmiDeviceInfo) -> Partition:
        conf = vdev_conf(vdev)
        return Partition(
            uuid=f'vdev{vdev}', device_uuid=device.uuid, profile=self.profile_name,
            memory_mb=int(info.global_mem_size) // _MIB,
            compute_units=int(info.compute_unit_count), device_nodes=device.device_nodes,
            handle=(('vdev', str(vdev)), ('device', str(device.index)), ('conf', conf)))

    def partitions(self, device_uuid):
        device = self._device(device_uuid)
        if 'hard' not in device.isolation:
            return []
        return [self._partition(device, vdev, info) for vdev, info in self._vdevices()
                if info.device_id == device.index]

    def create_partition(self, device_uuid, profile, *, memory_mb=None, compute_units=None):
        device = self._require(device_uuid)
        if profile != self.profile_name:
            raise errors.NotSupportedError(
                f'DCU {device_uuid} has no vDCU profile {profile!r}; has: {self.profile_name}')
        memory = int(memory_mb or device.memory_mb)
        units = int(compute_units or device.compute_units)
        if memory <= 0 or units <= 0:
            raise errors.NotSupportedError(
                f'a vDCU needs memory and compute units > 0, got {memory} MiB/{units} CUs')
        cus_left, mem_left = ctypes.c_size_t(), ctypes.c_size_t()
        try:
            self._call('dmiGetDeviceRemainingInfo', device.index, ctypes.pointer(cus_left),
                       ctypes.pointer(mem_left))
        except DmiError:
            pass  # the create call says the same through its status
        else:
            if units > cus_left.value or memory > mem_left.value // _MIB:
                raise errors.InsufficientCapacityError(
                    f'DCU {device_uuid} has {cus_left.value} CUs and '
                    f'{mem_left.value // _MIB} MiB left; asked {units} CUs, {memory} MiB')
        before = {vdev for vdev, _info in self._vdevices()}
        try:
            self._call('dmiCreateVDevices', device.index, 1, (ctypes.c_int * 1)(units),
                       (ctypes.c_int * 1)(memory))
        except DmiError as exc:
            if exc.status in _CAPACITY:
                raise errors.InsufficientCapacityError(
                    f'vDCU of {units} CUs/{memory} MiB on {device_uuid}: {exc}') from exc
            if exc.status in _UNSUPPORTED:
                raise errors.NotSupportedError(f'DCU {device_uuid}: {exc}') from exc
            raise
        made = [(vdev, info) for vdev, info in self._vdevices()
                if vdev not in before and info.device_id == device.index]
        if not made:
            raise errors.DriverError(f'dmiCreateVDevices succeeded on DCU {device.index} but '
                                     'lists no new vDCU')
        return self._partition(device, *made[0])

    def destroy_partition(self, device_uuid, partition_uuid):
        self._require(device_uuid)
        match = _VDEV_ID.match(partition_uuid)
        if match is None:
            raise errors.PartitionNotFoundError(f'{partition_uuid!r} is not a vDCU id')
        vdev = int(match.group(1))
        if f'vdev{vdev}' not in {p.uuid for p in self.partitions(device_uuid)}:
            raise errors.PartitionNotFoundError(f'DCU {device_uuid} has no {partition_uuid}')
        try:
            self._call('dmiDestroySingleVDevice', vdev)
        except DmiError as exc:
            if exc.status == STATUS['VDEV_NOT_EXIST']:
                raise errors.PartitionNotFoundError(f'{partition_uuid}: {exc}') from exc
            if exc.status == STATUS['DEVICE_BUSY']:
                raise errors.DeviceBusyError(f'{partition_uuid}: {exc}') from exc
            if exc.status in _UNSUPPORTED:
                raise errors.NotSupportedError(f'{partition_uuid}: {exc}') from exc
            raise

    def close(self):
        self._lib = None
