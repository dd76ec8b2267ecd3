"""The CLI drivers of Iluvatar, Hygon, Cambricon, Moore Threads, MetaX, Kunlunxin and Enflame.

Each runs against its fixture under ``tests/fixtures/drivers/<vendor>/``; every fixture's
``_source`` names where it comes from: a published real capture (Cambricon, Iluvatar, MetaX,
Moore Threads, Kunlunxin) or, where none was found, a hand-written stand-in (Hygon, Enflame).
"""

import json
import os

import pytest

from pooling_drivers.accelerators import cli
from pooling_drivers.accelerators import domestic
from pooling_drivers.accelerators import errors
from pooling_drivers.accelerators.seam import CommandResult
from pooling_drivers.accelerators.seam import RecordedSeam

FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', 'fixtures', 'drivers')

CASES = [
    (domestic.IluvatarDriver, 'iluvatar/ixsmi.json'),
    (domestic.HygonDriver, 'hygon/hy-smi-json.json'),
    (domestic.CambriconDriver, 'cambricon/cnmon.json'),
    (domestic.MooreThreadsDriver, 'moorethreads/mthreads-gmi.json'),
    (domestic.MetaxDriver, 'metax/mx-smi.json'),
    (domestic.KunlunxinDriver, 'kunlunxin/xpu_smi.json'),
    (domestic.EnflameDriver, 'enflame/efsmi-q.json'),
]


def load(path):
    with open(os.path.join(FIXTURES, path), encoding='utf-8') as handle:
        return json.load(handle)


def make(cls, data, machine='0f1e2d3c4b5a69788796a5b4c3d2e1f0'):
    seam = RecordedSeam(commands={data['command']: data['stdout']},
                        files={'/etc/machine-id': machine + '\n'})
    return cls(seam=seam)


@pytest.mark.parametrize('cls, path', CASES, ids=[c[0].name for c in CASES])
def test_discovery_from_the_fixture(cls, path):
    data = load(path)
    assert data['_source']
    driver = make(cls, data)
    assert driver.available().ok
    devices = driver.discover()
    expect = data['expect']
    assert len(devices) == expect['count']
    first = devices[0]
    assert first.vendor == cls.vendor
    assert (first.model, first.memory_mb, first.pci_address) == (
        expect['model'], expect['memory_mb'], expect['pci'])
    assert first.driver_version == expect['driver_version']
    assert [d.healthy for d in devices] == expect['healthy']
    if 'uuid' in expect:
        assert first.uuid == expect['uuid']
    if 'compute_units' in expect:
        assert first.compute_units == expect['compute_units']
    assert first.isolation == ('none',)
    assert first.device_nodes, 'vendor device nodes are filled in'
    assert len({d.uuid for d in devices}) == len(devices)


@pytest.mark.parametrize('cls, path', CASES, ids=[c[0].name for c in CASES])
def test_uuids_without_a_printed_one_are_stable_per_host(cls, path):
    data = load(path)
    here = [d.uuid for d in make(cls, data).discover()]
    again = [d.uuid for d in make(cls, data).discover()]
    elsewhere = [d.uuid for d in make(cls, data, machine='ffff').discover()]
    assert here == again
    printed = 'uuid' in data['expect']
    assert (here == elsewhere) == printed


@pytest.mark.parametrize('cls, path', CASES, ids=[c[0].name for c in CASES])
def test_missing_or_failing_tool_is_unavailable(cls, path):
    missing = cls(seam=RecordedSeam()).available()
    assert not missing.ok and f'{cls.tool} not found' in missing.reason
    data = load(path)
    seam = RecordedSeam(commands={data['command']: CommandResult(9, '', 'driver not loaded')})
    broken = cls(seam=seam).available()
    assert not broken.ok and 'driver not loaded' in broken.reason


@pytest.mark.parametrize('cls, path', CASES, ids=[c[0].name for c in CASES])
def test_partitions_are_refused_plainly(cls, path):
    driver = make(cls, load(path))
    uuid = driver.discover()[0].uuid
    assert driver.partition_profiles(uuid) == []
    with pytest.raises(errors.NotSupportedError, match=cls.name):
        driver.create_partition(uuid, 'any')
    with pytest.raises(errors.NotSupportedError):
        driver.destroy_partition(uuid, 'any')
    with pytest.raises(errors.NotSupportedError):
        driver.utilisation()


def test_hygon_bad_json_is_unavailable():
    data = load('hygon/hy-smi-json.json')
    seam = RecordedSeam(commands={data['command']: 'WARNING: no DCU found'})
    assert not domestic.HygonDriver(seam=seam).available().ok


def test_compute_units_option_overrides_the_table():
    data = load('kunlunxin/xpu_smi.json')
    seam = RecordedSeam(commands={data['command']: data['stdout']})
    driver = domestic.KunlunxinDriver({'compute_units': '72'}, seam=seam)
    assert driver.discover()[0].compute_units == 72


def test_numa_node_comes_from_sysfs():
    data = load('metax/mx-smi.json')
    seam = RecordedSeam(commands={data['command']: data['stdout']},
                        files={'/sys/bus/pci/devices/0000:2a:00.0/numa_node': '1\n'})
    assert domestic.MetaxDriver(seam=seam).discover()[0].numa_node == 1


@pytest.mark.parametrize('text, mib', [
    ('65536 MiB', 65536), ('32 GB', 32768), ('49152MiB', 49152), ('1.5 GiB', 1536),
    ('N/A', 0), (2048, 2048)])
def test_to_mib(text, mib):
    assert cli.to_mib(text) == mib


def test_pci_address_forms():
    assert cli.pci_address('00000000:1A:00.0') == '0000:1a:00.0'
    assert cli.pci_address('3b:00.0') == '0000:3b:00.0'
    assert cli.pci_address('N/A') == ''


def test_kv_blocks_nest_and_keep_first_value():
    text = 'junk\nCard 3\n  A : 1\n  Sec\n    B : 2\n  A : 9\n'
    rows = cli.parse_kv_blocks(text, r'^Card (\d+)$')
    assert rows == [{'_index': '3', 'A': '1', 'Sec.B': '2'}]


@pytest.mark.parametrize('memory_text, used, total', [
    ('|  0%   32C        106 W/ 250 W |     0 MiB/ 23374 MiB | N/A           Default |', '0',
     '23374'),
    ('| 0%   33C   P0    N/A / N/A    | 114MiB / 32768MiB    | 0%        Default    |', '114',
     '32768'),
    ('| 31C         44W                    | 810/65536 MiB       |                      |',
     '810', '65536'),
    ('| N/A   37C  N/A     85W / 400W |      0MiB / 98304MiB |      0%      Default |', '0',
     '98304')])
def test_smi_table_reads_the_memory_pair_after_the_device_line(memory_text, used, total):
    text = f'banner 1/2 MiB\n| 0  Card | 0000:01:00.0 |\n{memory_text}\n| 9/9 MiB |\n'
    rows = cli.parse_smi_table(text, r'^\|\s*(?P<index>\d+)\s+(?P<name>\S+)\s*\|\s*(?P<bus>\S+)')
    assert rows == [{'index': '0', 'name': 'Card', 'bus': '0000:01:00.0',
                     'memory.used': used, 'memory.total': total}]


def test_smi_table_reads_memory_on_the_device_line_and_skips_processes():
    text = ('0    MTT S5000            |00000000:2a:00.0    |0%    66641MiB(81920MiB)\n'
            '| Processes: 1/2 MiB |\n')
    rows = cli.parse_smi_table(text, r'^(?P<index>\d+)\s+(?P<name>\S.*?)\s*\|(?P<bus>\S+)\s*\|')
    assert rows[0]['memory.total'] == '81920' and rows[0]['name'] == 'MTT S5000'
    assert cli.parse_smi_table('| Processes:\n| 0  Card | x |\n', r'^nothing') == []
