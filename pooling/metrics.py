"""Prometheus metrics of the pool: what the database says at scrape time, and what processes saw.

Two kinds, for two reasons:

* The pool's state (capacity, allocated, free and stranded compute and memory per device and
  per pool and model, vGPUs by state, platform and project, agent heartbeat ages) is read from
  the database by a collector at each scrape. Every API worker, and pooling-exporter, answers
  the same, so nothing of it needs to be shared between processes.
* What happened inside the claim path (claim latency, scheduler decision time, claims refused
  with 409 and why) exists only in the process that served the claim. Under gunicorn these
  live in prometheus_client's multiprocess files (``PROMETHEUS_MULTIPROC_DIR``, set by
  pooling-api before it forks; see ``prepare_workers``), which a scrape sums over workers.

prometheus_client is imported on first use: its multiprocess mode is chosen when its metric
objects are created, which must happen after the directory is known.

Units follow Prometheus conventions: compute in cards (1 = one whole card), memory in bytes,
time in seconds. Label values are bounded: devices and hosts by the hardware, pools and models
by the operator, states and platforms by the code, projects by ``[metrics] max_projects``,
remote vGPUs by ``[metrics] max_remote_vgpus``.
"""

import contextlib
import datetime
import glob
import os
import tempfile
import threading
import time

from oslo_log import log as logging
from oslo_utils import timeutils

ENV = 'PROMETHEUS_MULTIPROC_DIR'
CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'
MIB = 1024 * 1024
LOG = logging.getLogger(__name__)

_LOCK = threading.Lock()
_PROCESS = None  # the process-local metric objects, made on first use

#: refusal reasons: a bounded label, from the scheduler's explanation (pooling.scheduler).
_REASONS = (
    ('changed under', 'contention'),
    ('whole cards', 'no_whole_cards'),
    ('consumer host', 'consumer_host'),
    ('fabric', 'fabric'),
    ('on an up host', 'no_matching_device'),
    ('free', 'no_free_capacity'),
    ('no host in', 'no_host'),
)


def refusal_reason(message: str) -> str:
    """The bounded label for a NoCapacity message (the message itself is unbounded)."""
    for needle, reason in _REASONS:
        if needle in message:
            return reason
    return 'other'


def prepare_workers(conf) -> str | None:
    """Before pooling-api forks its workers: give them one multiprocess directory.

    Returns the directory (None for a single worker without one configured). Files left by an
    earlier run are removed, so counters start from zero with the service.
    """
    path = os.environ.get(ENV) or conf.metrics.multiproc_dir
    if not path and conf.api.workers <= 1:
        return None
    if not path:
        path = tempfile.mkdtemp(prefix='pooling-metrics-')
    os.makedirs(path, exist_ok=True)
    for stale in glob.glob(os.path.join(path, '*.db')):
        os.unlink(stale)
    os.environ[ENV] = path
    return path


class _Process:
    """The metric objects of this process (see the module docstring)."""

    def __init__(self):
        import prometheus_client as prom

        self.registry = None if os.environ.get(ENV) else prom.CollectorRegistry()
        # NOTE: registry None (multiprocess mode): the objects write files and register
        # nowhere; a scrape reads every worker's files through MultiProcessCollector.
        kw = {'registry': self.registry}
        buckets = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
        self.claim = prom.Histogram(
            'pooling_claim_duration_seconds',
            'Time to claim a vGPU (decide, then commit with compare-and-swap), by outcome.',
            ['outcome'], buckets=buckets, **kw)
        self.decision = prom.Histogram(
            'pooling_scheduler_decision_duration_seconds',
            'Time the scheduler took for one decision (filters and policy), in the claim path.',
            buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1),
            **kw)
        self.refused = prom.Counter(
            'pooling_claim_refusals',
            'Claims answered 409, by reason (no_free_capacity is where fragmentation shows).',
            ['reason'], **kw)


def _process() -> _Process:
    global _PROCESS
    if _PROCESS is None:
        with _LOCK:
            if _PROCESS is None:
                _PROCESS = _Process()
    return _PROCESS


@contextlib.contextmanager
def timed_decision():
    process = _process()
    start = time.perf_counter()
    try:
        yield
    finally:
        process.decision.observe(time.perf_counter() - start)


@contextlib.contextmanager
def observed_claim():
    """Time a claim and count why it was refused (NoCapacity / QuotaExceeded)."""
    from pooling import exception

    process = _process()
    start = time.perf_counter()
    outcome = 'error'
    try:
        yield
        outcome = 'claimed'
    except exception.NoCapacity as err:
        outcome = 'no_capacity'
        process.refused.labels(refusal_reason(str(err))).inc()
        raise
    except exception.QuotaExceeded:
        outcome = 'quota_exceeded'
        process.refused.labels('quota_exceeded').inc()
        raise
    finally:
        process.claim.labels(outcome).observe(time.perf_counter() - start)


# -- the pool's state, read at scrape time -------------------------------------------------------
def _family(kind, name, doc, labels):
    from prometheus_client import core

    cls = core.GaugeMetricFamily if kind == 'gauge' else core.CounterMetricFamily
    return cls(name, doc, labels=labels)


class PoolCollector:
    """A prometheus_client collector that reads the pool from the database at each scrape."""

    def __init__(self, context, max_projects: int = 50, max_remote_vgpus: int = 100):
        self.context = context
        self.max_projects = max_projects
        self.max_remote_vgpus = max_remote_vgpus

    def describe(self):
        return []

    def collect(self):
        from pooling.objects import device as device_obj
        from pooling.objects import host as host_obj
        from pooling.objects import remote_traffic as traffic_obj
        from pooling.objects import usage as usage_obj

        ctx = self.context
        usage = usage_obj.usage(ctx)
        shapes = [(int(s['compute_percent'] * 10), s['memory_mb'], s['count'])
                  for s in (usage[0]['common_shapes'] if usage else [])]
        yield from self._pools(usage)
        yield from self._devices(device_obj.list_devices(ctx), shapes)
        yield from self._hosts(host_obj.list_hosts(ctx))
        yield from self._vgpus(vgpu_counts(ctx))
        yield from remote_families(traffic_obj.per_vgpu(ctx), self.max_remote_vgpus)

    @staticmethod
    def _pools(usage):
        labels = ['pool', 'model']
        fams = {'devices': _family('gauge', 'pooling_pool_devices',
                                   'Cards of this model in the pool.', labels)}
        for what, doc in (('capacity', 'Total'), ('allocated', 'Held by vGPUs'),
                          ('free', 'Free on healthy cards'),
                          ('stranded', 'Free but too small for any of the common shapes')):
            fams['c_' + what] = _family('gauge', 'pooling_pool_compute_%s_cards' % what,
                                        '%s compute, in cards.' % doc, labels)
            fams['m_' + what] = _family('gauge', 'pooling_pool_memory_%s_bytes' % what,
                                        '%s memory, in bytes.' % doc, labels)
        for u in usage:
            key = [u['pool'], u['model']]
            fams['devices'].add_metric(key, u['devices'])
            for what in ('capacity', 'allocated', 'free', 'stranded'):
                fams['c_' + what].add_metric(key, u[what]['compute_percent'] / 100)
                fams['m_' + what].add_metric(key, u[what]['memory_mb'] * MIB)
        return fams.values()

    @staticmethod
    def _devices(devices, shapes):
        from pooling.objects import usage as usage_obj

        labels = ['pool', 'host', 'device', 'vendor', 'model']
        fams = {}
        for what in ('capacity', 'allocated', 'free', 'stranded'):
            fams['c_' + what] = _family('gauge', 'pooling_device_compute_%s_cards' % what,
                                        'Compute of the card (%s), in cards.' % what, labels)
            fams['m_' + what] = _family('gauge', 'pooling_device_memory_%s_bytes' % what,
                                        'Memory of the card (%s), in bytes.' % what, labels)
        healthy = _family('gauge', 'pooling_device_healthy',
                          '1 when the agent reports the card healthy.', labels)
        for d in devices:
            key = [d['pool'], d['host'], d['uuid'], d['vendor'], d['model']]
            ok = d['health'] == 'healthy'
            free_c = d['compute_total'] - d['compute_used'] if ok else 0
            free_m = d['memory_mb'] - d['memory_used'] if ok else 0
            stranded = bool((free_c or free_m) and shapes
                            and not any(usage_obj.fits(free_c, free_m, s) for s in shapes))
            values = {'capacity': (d['compute_total'], d['memory_mb']),
                      'allocated': (d['compute_used'], d['memory_used']),
                      'free': (free_c, free_m),
                      'stranded': (free_c, free_m) if stranded else (0, 0)}
            for what, (compute, memory) in values.items():
                fams['c_' + what].add_metric(key, compute / 1000)
                fams['m_' + what].add_metric(key, memory * MIB)
            healthy.add_metric(key, 1 if ok else 0)
        return [*fams.values(), healthy]

    @staticmethod
    def _hosts(hosts):
        labels = ['pool', 'host', 'fabric']
        up = _family('gauge', 'pooling_host_up', '1 when the host is up.', labels)
        age = _family('gauge', 'pooling_agent_heartbeat_age_seconds',
                      "Seconds since the host's agent last reported.", labels)
        now = timeutils.utcnow()
        for h in hosts:
            key = [h['pool'], h['name'], h['fabric'] or '']
            up.add_metric(key, 1 if h['state'] == 'up' else 0)
            if h['last_heartbeat']:
                beat = timeutils.normalize_time(timeutils.parse_isotime(h['last_heartbeat']))
                age.add_metric(key, max(0.0, (now - beat).total_seconds()))
        return [up, age]

    def _vgpus(self, counts):
        fam = _family('gauge', 'pooling_vgpus',
                      'vGPUs not yet deleted, by state, platform and project (the projects '
                      'with the most vGPUs; the others as "other").', ['state', 'platform',
                                                                      'project'])
        per_project = {}
        for (_state, _platform, project), n in counts.items():
            per_project[project] = per_project.get(project, 0) + n
        kept = set(sorted(per_project, key=lambda p: (-per_project[p], p))[:self.max_projects])
        summed = {}
        for (state, platform, project), n in counts.items():
            key = (state, platform, project if project in kept else 'other')
            summed[key] = summed.get(key, 0) + n
        for key, n in sorted(summed.items()):
            fam.add_metric(list(key), n)
        return [fam]


def remote_families(traffic, max_vgpus: int):
    """pooling_remote_* per vGPU: the ``max_vgpus`` that moved the most bytes, the rest summed.

    The summed ``vgpu="other"`` series is a counter like the others, but it can step down when
    a vGPU climbs into the kept ones (Prometheus then sees a reset); the per-vGPU series do not.
    """
    labels = ['vgpu', 'project']
    moved = _family('counter', 'pooling_remote_bytes',
                    'Bytes through the device hosts\' gateways for the vGPU; direction "in" is '
                    'consumer to card, "out" card to consumer.', labels + ['direction'])
    opened = _family('counter', 'pooling_remote_connections',
                     'Connections the gateways admitted for the vGPU.', labels)
    open_now = _family('gauge', 'pooling_remote_open_connections',
                       'Connections open for the vGPU at the agents\' last reports.', labels)
    last = _family('gauge', 'pooling_remote_last_use_timestamp_seconds',
                   'When the vGPU\'s gateway traffic was last seen (Unix time).', labels)
    ranked = sorted(traffic, key=lambda t: (-(t.bytes_in + t.bytes_out), t.vgpu_uuid))
    rest = [0, 0, 0, 0]
    for t in ranked[:max_vgpus]:
        key = [t.vgpu_uuid, t.project_id]
        moved.add_metric(key + ['in'], t.bytes_in)
        moved.add_metric(key + ['out'], t.bytes_out)
        opened.add_metric(key, t.connections_total)
        open_now.add_metric(key, t.connections)
        if t.last_use is not None:
            last.add_metric(key, t.last_use.replace(tzinfo=datetime.timezone.utc).timestamp())
    for t in ranked[max_vgpus:]:
        for i, n in enumerate((t.bytes_in, t.bytes_out, t.connections_total, t.connections)):
            rest[i] += n
    if len(ranked) > max_vgpus:
        key = ['other', 'other']
        moved.add_metric(key + ['in'], rest[0])
        moved.add_metric(key + ['out'], rest[1])
        opened.add_metric(key, rest[2])
        open_now.add_metric(key, rest[3])
    return [moved, opened, open_now, last]


def vgpu_counts(context) -> dict:
    """{(state, platform, project): n} of the vGPUs not deleted (one GROUP BY)."""
    import sqlalchemy as sa

    from pooling.db import api as db_api
    from pooling.db import models

    v = models.VGPU

    @db_api.reader
    def _read(context):
        rows = context.session.execute(
            sa.select(v.state, v.consumer_platform, v.project_id, sa.func.count())
            .where(v.state != 'DELETED')
            .group_by(v.state, v.consumer_platform, v.project_id)).all()
        return {(s, p or 'none', proj): n for s, p, proj, n in rows}

    return _read(context)


def render_process() -> bytes:
    """The claim-path metrics: this process's, or every worker's in multiprocess mode."""
    import prometheus_client as prom
    from prometheus_client import multiprocess

    process = _process()
    if process.registry is not None:
        return prom.generate_latest(process.registry)
    merged = prom.CollectorRegistry()
    multiprocess.MultiProcessCollector(merged, path=os.environ[ENV])
    return prom.generate_latest(merged)


def render(context, conf) -> bytes:
    """The text exposition of every metric: the pool's state plus every process's claims."""
    import prometheus_client as prom

    registry = prom.CollectorRegistry()
    registry.register(PoolCollector(context, conf.metrics.max_projects,
                                    conf.metrics.max_remote_vgpus))
    return prom.generate_latest(registry) + render_process()
