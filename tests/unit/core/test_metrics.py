"""pooling.metrics without a database: refusal reasons, and multiprocess sums across workers."""

import os
import subprocess
import sys

from prometheus_client import parser

from pooling import metrics

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))


def test_refusal_reasons_are_a_bounded_set():
    cases = {
        'no healthy device of model(s) X with 25 % compute and 1024 MiB free': 'no_free_capacity',
        'no host has 4 free whole cards of any model (at most 2 on one host)': 'no_whole_cards',
        'no healthy device of model(s) Y on an up host in any pool': 'no_matching_device',
        'no host in pool p is up': 'no_host',
        'consumer host c1 is down': 'consumer_host',
        'no host in the fabric of consumer host c1 has a device of any model with ...':
            'consumer_host',
        'the pool changed under 10 attempts in a row; retry': 'contention',
        'something new': 'other',
    }
    for message, reason in cases.items():
        assert metrics.refusal_reason(message) == reason, message


WORKER = """
import sys
from pooling import exception, metrics
for _ in range(int(sys.argv[1])):
    with metrics.observed_claim():
        pass
try:
    with metrics.observed_claim():
        raise exception.NoCapacity(reason='no healthy device of any model with 1 % free')
except exception.NoCapacity:
    pass
"""


def _families(text):
    return {f.name: f for f in parser.text_string_to_metric_families(text)}


def test_workers_histograms_are_summed_in_multiprocess_mode(tmp_path):
    env = dict(os.environ, **{metrics.ENV: str(tmp_path)})
    for n in (2, 3):  # two "workers", each its own process
        subprocess.run([sys.executable, '-c', WORKER, str(n)], env=env, check=True, cwd=REPO)
    out = subprocess.run(
        [sys.executable, '-c', 'import sys; from pooling import metrics; '
                               'sys.stdout.write(metrics.render_process().decode())'],
        env=env, check=True, cwd=REPO, capture_output=True, text=True).stdout
    fams = _families(out)
    claims = {s.labels['outcome']: s.value for s in fams['pooling_claim_duration_seconds'].samples
              if s.name.endswith('_count')}
    assert claims == {'claimed': 5.0, 'no_capacity': 2.0}
    refused = {s.labels['reason']: s.value for s in fams['pooling_claim_refusals'].samples
               if s.name.endswith('_total')}
    assert refused == {'no_free_capacity': 2.0}


def test_prepare_workers_sets_one_directory_and_clears_old_files(tmp_path, monkeypatch):
    class Conf:
        class metrics:  # noqa: N801
            multiproc_dir = str(tmp_path)

        class api:  # noqa: N801
            workers = 4

    (tmp_path / 'histogram_123.db').write_bytes(b'old')
    monkeypatch.delenv(metrics.ENV, raising=False)
    try:
        assert metrics.prepare_workers(Conf) == str(tmp_path)
        assert os.environ[metrics.ENV] == str(tmp_path)
        assert not list(tmp_path.iterdir())
        del os.environ[metrics.ENV]
        Conf.metrics.multiproc_dir = None
        Conf.api.workers = 1
        assert metrics.prepare_workers(Conf) is None
        assert metrics.ENV not in os.environ
    finally:
        os.environ.pop(metrics.ENV, None)


def _exported_names() -> set:
    """Every sample name pooling.metrics can export (the collector fed sample rows)."""
    usage = [{'pool': 'p', 'model': 'm', 'devices': 1,
              **{k: {'compute_percent': 100.0, 'memory_mb': 1} for k in
                 ('capacity', 'allocated', 'free', 'stranded')}}]
    dev = {'pool': 'p', 'host': 'h', 'uuid': 'd', 'vendor': 'v', 'model': 'm', 'health': 'healthy',
           'compute_total': 1000, 'compute_used': 0, 'memory_mb': 1, 'memory_used': 0}
    host = {'pool': 'p', 'name': 'h', 'fabric': None, 'state': 'up',
            'last_heartbeat': '2026-01-01T00:00:00'}
    with metrics.observed_claim():
        pass
    with metrics.timed_decision():
        pass
    fams = list(metrics.PoolCollector._pools(usage))
    fams += metrics.PoolCollector._devices([dev], [(250, 1, 1)])
    fams += metrics.PoolCollector._hosts([host])
    fams += metrics.PoolCollector(None)._vgpus({('ACTIVE', 'none', 'x'): 1})
    fams += metrics.remote_families([_traffic('v1', 10)], 10)
    names = {s.name for f in fams for s in f.samples}
    names |= {s.name for f in parser.text_string_to_metric_families(
        metrics.render_process().decode()) for s in f.samples}
    return names | {'pooling_claim_refusals_total'}  # a counter with no sample yet


def test_grafana_dashboard_is_current_and_uses_exported_metrics():
    import json
    import re

    from tools import grafana_dashboard

    with open(os.path.join(REPO, 'doc', 'source', 'admin', 'grafana-pooling.json')) as f:
        committed = json.load(f)
    assert committed == json.loads(json.dumps(grafana_dashboard.dashboard())), (
        'run python tools/grafana_dashboard.py > doc/source/admin/grafana-pooling.json')
    exported = _exported_names()
    used = set()
    for panel in committed['panels']:
        for target in panel['targets']:
            used |= set(re.findall(r'pooling_[a-z_]+', target['expr']))
    assert used and used <= exported, used - exported


def _traffic(uuid, n, project='p'):
    import datetime

    from pooling.objects import remote_traffic

    return remote_traffic.VGPUTraffic(uuid, project, n, 2 * n, 1, 3, datetime.datetime(2026, 1, 1))


def _samples(fams):
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in fams for s in f.samples}


def test_remote_traffic_per_vgpu_is_bounded_and_sums_the_rest():
    traffic = [_traffic('v%d' % i, 100 * i) for i in range(1, 6)]
    got = _samples(metrics.remote_families(traffic, 2))
    vgpus = {dict(k[1])['vgpu'] for k in got if k[0] == 'pooling_remote_bytes_total'}
    assert vgpus == {'v5', 'v4', 'other'}  # the two that moved most, the rest summed
    other = (('direction', 'out'), ('project', 'other'), ('vgpu', 'other'))
    assert got[('pooling_remote_bytes_total', other)] == 2 * (100 + 200 + 300)
    assert got[('pooling_remote_bytes_total', (('direction', 'in'), ('project', 'p'),
                                               ('vgpu', 'v5')))] == 500
    assert got[('pooling_remote_connections_total', (('project', 'p'), ('vgpu', 'v4')))] == 3
    assert got[('pooling_remote_last_use_timestamp_seconds',
                (('project', 'p'), ('vgpu', 'v4')))] == 1767225600.0
    # Within the bound nothing is summed.
    assert not any(dict(k[1]).get('vgpu') == 'other'
                   for k in _samples(metrics.remote_families(traffic, 5)))


def test_remote_totals_only_grow_across_a_gateway_restart():
    from pooling.objects import remote_traffic

    assert remote_traffic._grown(100, 40, 70) == 130  # 30 more since the last report
    assert remote_traffic._grown(130, 70, 5) == 135  # the gateway restarted: 5 new
    assert remote_traffic._grown(135, 5, 5) == 135
