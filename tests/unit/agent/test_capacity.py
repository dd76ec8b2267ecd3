"""The host capacity an agent reports: affinity, /proc/meminfo and cgroup limits on a fake tree."""

from oslo_config import cfg
import pytest

from pooling.agent import capacity
from pooling.conf import agent as agent_conf

MEMINFO = 'MemTotal:       65842348 kB\nMemFree:        1000000 kB\n'  # 64299 MiB


def _tree(tmp_path, files: dict):
    for path, text in files.items():
        f = tmp_path / path
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
    (tmp_path / 'sys/fs/cgroup').mkdir(parents=True, exist_ok=True)
    return str(tmp_path)


def test_bare_host_reports_affinity_and_memtotal(tmp_path):
    root = _tree(tmp_path, {'proc/meminfo': MEMINFO, 'proc/self/cgroup': '0::/\n',
                            'sys/fs/cgroup/cpu.max': 'max 100000\n',
                            'sys/fs/cgroup/memory.max': 'max\n'})
    assert capacity.probe(root, cpus=8) == capacity.HostCapacity(8000, 64299)


def test_cgroup_v2_limits_of_the_process_and_its_ancestors(tmp_path):
    root = _tree(tmp_path, {
        'proc/meminfo': MEMINFO, 'proc/self/cgroup': '0::/system.slice/pooling-agent.service\n',
        # the parent caps CPU at 2.5 cores, the service's own cgroup memory at 4 GiB
        'sys/fs/cgroup/system.slice/cpu.max': '250000 100000\n',
        'sys/fs/cgroup/system.slice/memory.max': 'max\n',
        'sys/fs/cgroup/system.slice/pooling-agent.service/cpu.max': 'max 100000\n',
        'sys/fs/cgroup/system.slice/pooling-agent.service/memory.max': '4294967296\n'})
    assert capacity.probe(root, cpus=16) == capacity.HostCapacity(2500, 4096)
    # a quota above what the affinity allows does not raise it
    assert capacity.probe(root, cpus=2) == capacity.HostCapacity(2000, 4096)


def test_cgroup_namespace_reads_the_mount_itself(tmp_path):
    # in a container with its own cgroup namespace the path is "/"; without one the path names
    # a cgroup that is not under the container's mount, and the mount itself is read
    for path in ('/', '/docker/0123abcd'):
        root = _tree(tmp_path, {'proc/meminfo': MEMINFO, 'proc/self/cgroup': '0::%s\n' % path,
                                'sys/fs/cgroup/cpu.max': '150000 100000\n',
                                'sys/fs/cgroup/memory.max': '2147483648\n'})
        assert capacity.probe(root, cpus=64) == capacity.HostCapacity(1500, 2048)


def test_cgroup_v1(tmp_path):
    root = _tree(tmp_path, {
        'proc/meminfo': MEMINFO,
        'proc/self/cgroup': '12:memory:/kubepods/pod1\n4:cpu,cpuacct:/kubepods/pod1\n'
                            '1:name=systemd:/kubepods/pod1\n',
        'sys/fs/cgroup/cpu,cpuacct/kubepods/pod1/cpu.cfs_quota_us': '50000\n',
        'sys/fs/cgroup/cpu,cpuacct/kubepods/pod1/cpu.cfs_period_us': '100000\n',
        'sys/fs/cgroup/cpu,cpuacct/kubepods/cpu.cfs_quota_us': '-1\n',
        'sys/fs/cgroup/cpu,cpuacct/kubepods/cpu.cfs_period_us': '100000\n',
        'sys/fs/cgroup/memory/kubepods/pod1/memory.limit_in_bytes': '1073741824\n',
        # v1's "unlimited"
        'sys/fs/cgroup/memory/memory.limit_in_bytes': '9223372036854771712\n'})
    assert capacity.probe(root, cpus=32) == capacity.HostCapacity(500, 1024)


def test_nothing_readable_but_affinity(tmp_path):
    root = _tree(tmp_path, {})
    assert capacity.probe(root, cpus=4) == capacity.HostCapacity(4000, 0)
    root = _tree(tmp_path, {'proc/meminfo': 'MemTotal: garbage\n',
                            'proc/self/cgroup': 'not a cgroup line\n'})
    assert capacity.probe(root, cpus=4) == capacity.HostCapacity(4000, 0)


def test_this_machine_reports_something():
    found = capacity.probe()
    assert found.cpu_milli > 0 and found.ram_mb > 0


@pytest.mark.parametrize('cpu, ram, expected', [
    (None, None, (3000, 64299)),
    (1500, None, (1500, 64299)),
    (None, 512, (3000, 512)),
    (0, 0, (0, 0)),  # set to 0: not tracked
])
def test_options_override_what_is_probed(tmp_path, cpu, ram, expected):
    root = _tree(tmp_path, {'proc/meminfo': MEMINFO, 'proc/self/cgroup': '0::/\n',
                            'sys/fs/cgroup/cpu.max': '300000 100000\n'})
    conf = cfg.ConfigOpts()
    agent_conf.register_opts(conf)
    conf([])
    if cpu is not None:
        conf.set_override('cpu_milli', cpu, group='agent')
    if ram is not None:
        conf.set_override('ram_mb', ram, group='agent')
    found = capacity.host_capacity(conf, root, cpus=4)
    assert (found.cpu_milli, found.ram_mb) == expected
