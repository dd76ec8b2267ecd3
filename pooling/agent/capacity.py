"""The host's CPU and RAM as the agent reports them: what this process may use, probed.

A host reports ``cpu_milli`` and ``ram_mb`` with every heartbeat (``GET /v1/hosts`` shows them,
and the scheduler and ``pooling-manage what-if`` count workloads' CPU and RAM against them).
Unless the operator sets ``[agent] cpu_milli`` / ``ram_mb``, the agent measures them here:

* CPU: the CPUs this process may run on (``sched_getaffinity``: cpusets, ``taskset``), lowered by
  a CFS quota of its cgroup or any ancestor (cgroup v2 ``cpu.max``, v1 ``cpu.cfs_quota_us`` /
  ``cpu.cfs_period_us``), in milli-cores.
* RAM: ``MemTotal`` of ``/proc/meminfo``, lowered by a memory limit of its cgroup or any ancestor
  (v2 ``memory.max``, v1 ``memory.limit_in_bytes``), in MiB.

So an agent in a container reports the container's share, not the machine's. Everything is read
under ``root`` (``/`` on a host), the seam the tests point at a fake ``/proc`` and
``/sys/fs/cgroup`` tree. A file that is missing or unreadable only means "no limit there"; a
host whose RAM cannot be read at all reports 0 (not tracked).
"""

from __future__ import annotations

import dataclasses
import os

from oslo_log import log as logging

LOG = logging.getLogger(__name__)
CGROUP_MOUNT = 'sys/fs/cgroup'
# cgroup v1 writes "no limit" as a number near 2**63 (memory.limit_in_bytes).
_UNLIMITED = 1 << 62


@dataclasses.dataclass(frozen=True)
class HostCapacity:
    cpu_milli: int
    ram_mb: int


def _read(root: str, path: str) -> str | None:
    try:
        with open(os.path.join(root, path), encoding='utf-8') as f:
            return f.read().strip()
    except (OSError, ValueError):
        return None


def _cgroup_dirs(root: str, controller: str) -> list[str]:
    """The folders of this process's cgroup for ``controller`` and of its ancestors, leaf first.

    From ``/proc/self/cgroup``: the v2 line ``0::/path``, or the v1 line whose controller list
    names ``controller`` (mounted at ``/sys/fs/cgroup/<controller list>``, or at
    ``/sys/fs/cgroup/<controller>``). Only folders that exist are returned; inside a cgroup
    namespace the path is ``/``, the mount itself.
    """
    text = _read(root, 'proc/self/cgroup') or ''
    dirs = []
    for line in text.splitlines():
        parts = line.split(':', 2)
        if len(parts) != 3:
            continue
        _id, controllers, path = parts
        if controllers == '':
            mounts = [CGROUP_MOUNT]  # v2, unified
        elif controller in controllers.split(','):
            mounts = [os.path.join(CGROUP_MOUNT, controllers),
                      os.path.join(CGROUP_MOUNT, controller)]
        else:
            continue
        for mount in mounts:
            if not os.path.isdir(os.path.join(root, mount)):
                continue
            rel = path.strip('/')
            while True:
                folder = os.path.join(mount, rel) if rel else mount
                if os.path.isdir(os.path.join(root, folder)):
                    dirs.append(folder)
                if not rel:
                    break
                rel = os.path.dirname(rel)
            break
    return dirs


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def cgroup_cpu_milli(root: str = '/') -> int | None:
    """The lowest CFS quota over this process's cgroup and its ancestors, in milli-cores."""
    limits = []
    for folder in _cgroup_dirs(root, 'cpu'):
        fields = (_read(root, os.path.join(folder, 'cpu.max')) or '').split()
        if len(fields) == 2 and fields[0] != 'max':
            quota, period = _int(fields[0]), _int(fields[1])
        else:
            quota = _int(_read(root, os.path.join(folder, 'cpu.cfs_quota_us')))
            period = _int(_read(root, os.path.join(folder, 'cpu.cfs_period_us')))
        if quota and quota > 0 and period and period > 0:
            limits.append(quota * 1000 // period)
    return min(limits) if limits else None


def cgroup_memory_mb(root: str = '/') -> int | None:
    """The lowest memory limit over this process's cgroup and its ancestors, in MiB."""
    limits = []
    for folder in _cgroup_dirs(root, 'memory'):
        for name in ('memory.max', 'memory.limit_in_bytes'):
            value = _int(_read(root, os.path.join(folder, name)))  # 'max' -> None
            if value is not None and 0 < value < _UNLIMITED:
                limits.append(value // (1024 * 1024))
    return min(limits) if limits else None


def mem_total_mb(root: str = '/') -> int | None:
    for line in (_read(root, 'proc/meminfo') or '').splitlines():
        if line.startswith('MemTotal:'):
            fields = line.split()
            value = _int(fields[1]) if len(fields) >= 2 else None
            if value is not None:
                unit = fields[2].lower() if len(fields) > 2 else 'kb'
                return value // 1024 if unit == 'kb' else value // (1024 * 1024)
    return None


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 0


def probe(root: str = '/', cpus: int | None = None) -> HostCapacity:
    """What this process may use: CPUs (``cpus`` or its affinity) and RAM, cgroup limits applied.

    :param root: where ``proc/`` and ``sys/fs/cgroup/`` are read (the tests' fake tree).
    :param cpus: the CPUs the process may run on (default ``os.sched_getaffinity``).
    """
    cpu = (cpus if cpus is not None else _cpus()) * 1000
    quota = cgroup_cpu_milli(root)
    if quota is not None:
        cpu = min(cpu, quota) if cpu else quota
    ram = mem_total_mb(root) or 0
    limit = cgroup_memory_mb(root)
    if limit is not None:
        ram = min(ram, limit) if ram else limit
    return HostCapacity(cpu_milli=cpu, ram_mb=ram)


def host_capacity(conf, root: str = '/', cpus: int | None = None) -> HostCapacity:
    """``[agent] cpu_milli`` / ``ram_mb`` where set (operator overrides), else probed."""
    cpu, ram = conf.agent.cpu_milli, conf.agent.ram_mb
    if cpu is None or ram is None:
        probed = probe(root, cpus)
        cpu = probed.cpu_milli if cpu is None else cpu
        ram = probed.ram_mb if ram is None else ram
    return HostCapacity(cpu_milli=cpu, ram_mb=ram)
