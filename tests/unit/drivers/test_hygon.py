"""The ``hygon`` driver: ``hy-smi`` discovery and vDCUs through ``libhydmi.so``.

``FakeHydmi`` is a STAND-IN MODELED ON THE C API, NOT A RECORDING: no Hygon card was available.
It follows ``dmi_virtual.h`` / ``dmi_error.h`` as published in Project-HAMi/dcu-dcgm
(commit e8fdd4be5e29b5cfc5133707c7e3da24479934bb): it fills the driver's ``DmiDeviceInfo``
(the header's ``dmiDeviceInfo`` layout) through the pointers it is handed, checks every argument
against the prototype the driver declared (``argtypes``), and answers with the library's own
``dmiStatus`` codes.  How the real library picks vDCU ids and refuses capacity is assumed:
lowest free id first, ``DMI_STATUS_OUT_OF_RESOURCES`` beyond the remaining CUs/memory or the
per-card maximum.
"""

import ctypes
import json
import os

import pytest

from pooling.agent import slices
from pooling_drivers.accelerators import domestic
from pooling_drivers.accelerators import errors
from pooling_drivers.accelerators import hygon
from pooling_drivers.accelerators.seam import RecordedSeam

FIXTURE = os.path.join(os.path.dirname(__file__), '..', '..', 'fixtures', 'drivers', 'hygon',
                       'hy-smi-json.json')
MIB = 1024 * 1024
CARD_BYTES = 68702699520  # 65520 MiB, as the hy-smi fixture's cards
S = hygon.STATUS
_STATUS_TEXT = {code: f'fake status string {name}'.encode() for name, code in S.items()}


class FakeFn:
    """One exported C function: checks its arguments against the declared ``argtypes``."""

    def __init__(self, name, impl, calls):
        self.name, self.impl, self.calls = name, impl, calls
        self.argtypes = None
        self.restype = None

    def __call__(self, *args):
        assert self.argtypes is not None, f'{self.name} called without a declared prototype'
        assert len(args) == len(self.argtypes), f'{self.name}: wrong argument count'
        for argtype, arg in zip(self.argtypes, args, strict=True):
            argtype.from_param(arg)  # raises TypeError as ctypes would for a wrong argument
        self.calls.append(self.name)
        return self.impl(*args)


class FakeHydmi:
    """``libhydmi.so`` for two K100_AI cards of 120 CUs and 65520 MiB (see the module doc)."""

    def __init__(self, cards=2, cus=120, max_vdevs=4, remaining_ok=True):
        self.cards = [{'name': b'K100_AI', 'cus': cus, 'mem': CARD_BYTES} for _ in range(cards)]
        self.max_vdevs = max_vdevs
        self.remaining_ok = remaining_ok
        #: vdev id -> {'device', 'cus', 'mem' (bytes)}
        self.vdevs = {}
        self.busy = set()
        self.calls = []
        self.created = []
        for name in hygon.PROTOTYPES:
            setattr(self, name, FakeFn(name, getattr(self, '_' + name), self.calls))

    def _left(self, device):
        mine = [v for v in self.vdevs.values() if v['device'] == device]
        card = self.cards[device]
        return (card['cus'] - sum(v['cus'] for v in mine),
                card['mem'] - sum(v['mem'] for v in mine), len(mine))

    @staticmethod
    def _fill(ptr, name, cus, mem, used=0, container=0, device=0):
        info = ptr.contents
        info.name = name
        info.compute_unit_count = cus
        info.global_mem_size = mem
        info.usage_mem_size = used
        info.container_id = container
        info.device_id = device

    def _dmiGetDeviceCount(self, count):
        count[0] = len(self.cards)
        return S['SUCCESS']

    def _dmiGetDeviceInfo(self, device, info):
        if not 0 <= device < len(self.cards):
            return S['INVALID_ARGUMENTS']
        card = self.cards[device]
        self._fill(info, card['name'], card['cus'], card['mem'], device=device)
        return S['SUCCESS']

    def _dmiGetMaxVDeviceCount(self, count):
        count[0] = self.max_vdevs
        return S['SUCCESS']

    def _dmiGetDeviceRemainingInfo(self, device, cus, mem):
        if not self.remaining_ok:
            return S['NOT_SUPPORTED']
        if not 0 <= device < len(self.cards):
            return S['INVALID_ARGUMENTS']
        cus[0], mem[0], _count = self._left(device)
        return S['SUCCESS']

    def _dmiGetVDeviceInfo(self, vdev, info):
        if vdev not in self.vdevs:
            return S['VDEV_NOT_EXIST']
        v = self.vdevs[vdev]
        self._fill(info, b'vdev%d' % vdev, v['cus'], v['mem'], container=0xC0FFEE,
                   device=v['device'])
        return S['SUCCESS']

    def _dmiCreateVDevices(self, device, count, cus, mem):
        if not 0 <= device < len(self.cards) or count < 1:
            return S['INVALID_ARGUMENTS']
        asked = [(cus[i], mem[i]) for i in range(count)]
        self.created.append((device, asked))
        cus_left, mem_left, made = self._left(device)
        if (sum(c for c, _m in asked) > cus_left or sum(m for _c, m in asked) * MIB > mem_left
                or made + count > self.max_vdevs):
            return S['OUT_OF_RESOURCES']
        for c, m in asked:
            vdev = min(set(range(len(self.vdevs) + 1)) - set(self.vdevs))
            self.vdevs[vdev] = {'device': device, 'cus': c, 'mem': m * MIB}  # MiB in, bytes out
        return S['SUCCESS']

    def _dmiDestroySingleVDevice(self, vdev):
        if vdev not in self.vdevs:
            return S['VDEV_NOT_EXIST']
        if vdev in self.busy:
            return S['DEVICE_BUSY']
        del self.vdevs[vdev]
        return S['SUCCESS']

    def _dmiGetStatusString(self, status, text):
        if status not in _STATUS_TEXT:
            return S['ERROR']
        text[0] = _STATUS_TEXT[status]
        return S['SUCCESS']


class FakeCtypes:
    """What ``seam.library('ctypes')`` returns: ``CDLL`` hands out the fake, or fails."""

    def __init__(self, lib=None):
        self.lib = lib
        self.loaded = []

    def CDLL(self, name):  # noqa: N802 - ctypes' name
        self.loaded.append(name)
        if self.lib is None:
            raise OSError(f'{name}: cannot open shared object file: No such file or directory')
        return self.lib


def load():
    with open(FIXTURE, encoding='utf-8') as handle:
        return json.load(handle)


def make(lib=None, *, ctypes_module=True, options=None):
    data = load()
    libraries = {'ctypes': FakeCtypes(lib)} if ctypes_module else {}
    seam = RecordedSeam(commands={data['command']: data['stdout']},
                        files={'/etc/machine-id': '0f1e2d3c4b5a69788796a5b4c3d2e1f0\n'},
                        libraries=libraries)
    return hygon.HygonDriver(options, seam=seam)


@pytest.fixture
def lib():
    return FakeHydmi()


@pytest.fixture
def driver(lib):
    return make(lib)


def test_struct_layout_matches_the_header():
    # char name[256]; int; size_t; size_t; uint64_t; int -- on LP64 with natural alignment.
    info = hygon.DmiDeviceInfo
    assert [f[0] for f in info._fields_] == ['name', 'compute_unit_count', 'global_mem_size',
                                             'usage_mem_size', 'container_id', 'device_id']
    assert info.name.size == hygon.DMI_NAME_SIZE == 256
    if ctypes.sizeof(ctypes.c_size_t) == 8:
        assert (info.compute_unit_count.offset, info.global_mem_size.offset,
                info.usage_mem_size.offset, info.container_id.offset,
                info.device_id.offset) == (256, 264, 272, 280, 288)
        assert ctypes.sizeof(info) == 296


def test_status_codes_are_the_headers():
    assert (S['SUCCESS'], S['NOT_SUPPORTED'], S['OUT_OF_RESOURCES'], S['VDEV_NOT_EXIST'],
            S['DEVICE_BUSY']) == (0, 6, 11, 15, 17)


def test_the_name_is_the_same_class_everywhere():
    assert domestic.HygonDriver is hygon.HygonDriver


def test_discovery_with_the_library_advertises_hard(driver, lib):
    devices = driver.discover()
    assert [d.isolation for d in devices] == [('hard', 'none')] * 2
    assert [d.index for d in devices] == [0, 1]
    assert devices[0].compute_units == 120 and devices[0].memory_mb == 65520
    assert 'dmiGetDeviceInfo' in lib.calls
    assert driver.available().ok


def test_compute_units_come_from_the_library():
    devices = make(FakeHydmi(cus=64)).discover()
    assert [d.compute_units for d in devices] == [64, 64]


def test_profile_is_one_free_size_vdcu(driver):
    uuid = driver.discover()[0].uuid
    (profile,) = driver.partition_profiles(uuid)
    assert profile.custom and profile.name == 'vdcu'
    assert (profile.memory_mb, profile.compute_units, profile.compute_milli,
            profile.max_instances) == (65520, 120, 1000, 4)


def test_create_list_destroy(driver, lib):
    first, second = driver.discover()
    # one made by someone else on card 1, before us
    lib.vdevs[0] = {'device': 1, 'cus': 10, 'mem': 1024 * MIB}
    part = driver.create_partition(first.uuid, 'vdcu', memory_mb=8192, compute_units=30)
    assert lib.created == [(0, [(30, 8192)])]
    assert (part.uuid, part.memory_mb, part.compute_units) == ('vdev1', 8192, 30)
    assert dict(part.handle) == {'vdev': '1', 'device': '0', 'conf': '/etc/vdev/vdev1.conf'}
    assert part.device_nodes == first.device_nodes
    assert driver.partitions(first.uuid) == [part]
    others = driver.partitions(second.uuid)
    assert [(p.uuid, p.memory_mb, p.compute_units) for p in others] == [('vdev0', 1024, 10)]
    driver.destroy_partition(first.uuid, 'vdev1')
    assert driver.partitions(first.uuid) == []
    assert 1 not in lib.vdevs and 0 in lib.vdevs
    with pytest.raises(errors.PartitionNotFoundError):
        driver.destroy_partition(first.uuid, 'vdev1')
    with pytest.raises(errors.PartitionNotFoundError):
        driver.destroy_partition(first.uuid, 'vdev0')  # card 1's, not ours


def test_destroy_busy_and_vanished(driver, lib):
    dev = driver.discover()[0]
    part = driver.create_partition(dev.uuid, 'vdcu', memory_mb=4096, compute_units=8)
    lib.busy.add(0)
    with pytest.raises(errors.DeviceBusyError, match='dmiStatus 17'):
        driver.destroy_partition(dev.uuid, part.uuid)
    lib.busy.clear()
    real = lib._dmiDestroySingleVDevice

    def vanish(vdev):
        lib.vdevs.pop(vdev, None)
        return real(vdev)

    lib.dmiDestroySingleVDevice.impl = vanish
    with pytest.raises(errors.PartitionNotFoundError, match='VDEV_NOT_EXIST'):
        driver.destroy_partition(dev.uuid, part.uuid)


def test_capacity_is_refused_before_the_call(driver, lib):
    dev = driver.discover()[0]
    driver.create_partition(dev.uuid, 'vdcu', memory_mb=60000, compute_units=60)
    with pytest.raises(errors.InsufficientCapacityError, match='5520 MiB left'):
        driver.create_partition(dev.uuid, 'vdcu', memory_mb=8192, compute_units=30)
    assert len(lib.created) == 1


def test_capacity_refused_by_the_library_error_code():
    lib = FakeHydmi(remaining_ok=False)
    driver = make(lib)
    dev = driver.discover()[0]
    for _ in range(4):
        driver.create_partition(dev.uuid, 'vdcu', memory_mb=1024, compute_units=4)
    with pytest.raises(errors.InsufficientCapacityError,
                       match='dmiStatus 11 .fake status string OUT_OF_RESOURCES'):
        driver.create_partition(dev.uuid, 'vdcu', memory_mb=1024, compute_units=4)
    assert len(driver.partitions(dev.uuid)) == 4


def test_unknown_profile_and_bad_ids(driver):
    dev = driver.discover()[0]
    with pytest.raises(errors.NotSupportedError, match='vdcu'):
        driver.create_partition(dev.uuid, '1g.10gb')
    with pytest.raises(errors.PartitionNotFoundError):
        driver.destroy_partition(dev.uuid, 'MIG-abc')
    with pytest.raises(errors.DeviceNotFoundError):
        driver.partitions('no-such-device')


@pytest.mark.parametrize('ctypes_module', [True, False], ids=['cdll-fails', 'no-ctypes'])
def test_library_missing_still_discovers_without_hard(ctypes_module):
    driver = make(None, ctypes_module=ctypes_module)
    assert driver.available().ok
    devices = driver.discover()
    assert len(devices) == 2 and devices[0].isolation == ('none',)
    assert devices[0].compute_units == 120  # from the model table
    uuid = devices[0].uuid
    assert driver.partition_profiles(uuid) == [] and driver.partitions(uuid) == []
    with pytest.raises(errors.NotSupportedError, match='hygon.*libhydmi'):
        driver.create_partition(uuid, 'vdcu', memory_mb=1024, compute_units=4)
    with pytest.raises(errors.NotSupportedError):
        driver.destroy_partition(uuid, 'vdev0')


def test_library_option_is_tried_first():
    fake = FakeCtypes(None)
    data = load()
    seam = RecordedSeam(commands={data['command']: data['stdout']}, libraries={'ctypes': fake})
    hygon.HygonDriver({'library': '/opt/x/libhydmi.so'}, seam=seam).discover()
    assert fake.loaded[0] == '/opt/x/libhydmi.so'
    assert fake.loaded[1:] == list(hygon.LIBRARY_NAMES)


def test_hygon_vdcu_plugin_end_to_end(driver, lib):
    seam = driver.seam
    dev = driver.discover()[0]
    preparer = slices.SlicePreparer([driver], {}, seam=seam)
    a_slice = {'index': 0, 'device_uuid': dev.uuid, 'compute_milli': 250, 'memory_mb': 8192,
               'isolation': 'hard'}
    dcu = preparer.prepare('v1', a_slice)
    assert dcu['plugin'] == 'hygon-vdcu'
    assert (dcu['partition']['memory_mb'], dcu['partition']['compute_units']) == (8192, 30)
    assert dcu['mounts'][0]['host'] == '/etc/vdev/vdev0.conf'
    assert dcu['mounts'][0]['container'] == '/etc/vdev/vdev0.conf'
    preparer.release('v1', a_slice)
    assert lib.vdevs == {}
