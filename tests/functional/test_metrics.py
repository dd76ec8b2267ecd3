"""/metrics scraped during a functional run (MariaDB, RabbitMQ, sim agents) and parsed with
prometheus_client's own parser; pooling-exporter serves the same; pooling-manage what-if
replays the vGPUs this run recorded."""

import json
import subprocess
import sys
import threading
import urllib.request
from wsgiref import simple_server

from prometheus_client import parser

from pooling.cmd import exporter

GIB = 1024 ** 3


def _scrape(text):
    samples = {}
    for family in parser.text_string_to_metric_families(text):
        for s in family.samples:
            samples.setdefault(s.name, []).append((s.labels, s.value))
    return samples


def _one(samples, name, **labels):
    found = [v for lab, v in samples.get(name, []) if all(lab.get(k) == w
                                                          for k, w in labels.items())]
    assert len(found) == 1, (name, labels, samples.get(name))
    return found[0]


def test_metrics_during_a_run(stack):
    c = stack.client
    resp = c.post('/v1/vgpus', {'name': 'm1', 'compute_percent': 25, 'memory_mb': 20480,
                                'models': ['A100-SXM4-80GB']})
    assert resp.status_int == 201, resp.text
    stack.wait_state(resp.json['uuid'], ('ACTIVE',))
    big = c.post('/v1/vgpus', {'name': 'm2', 'compute_percent': 10, 'memory_mb': 90000})
    assert big.status_int == 409, big.text

    resp = c.get('/metrics')
    assert resp.status_int == 200
    assert resp.headers['Content-Type'].startswith('text/plain; version=0.0.4')
    m = _scrape(resp.text)
    # Three A100s of 80 GiB in pool default (HOSTS in conftest), a quarter of one taken.
    key = {'pool': 'default', 'model': 'A100-SXM4-80GB'}
    assert _one(m, 'pooling_pool_devices', **key) == 3
    assert _one(m, 'pooling_pool_compute_capacity_cards', **key) == 3.0
    assert _one(m, 'pooling_pool_compute_allocated_cards', **key) == 0.25
    assert _one(m, 'pooling_pool_compute_free_cards', **key) == 2.75
    assert _one(m, 'pooling_pool_memory_capacity_bytes', **key) == 3 * 80 * GIB
    assert _one(m, 'pooling_pool_memory_allocated_bytes', **key) == 20 * GIB
    held = [lab for lab, v in m['pooling_device_compute_allocated_cards'] if v == 0.25]
    assert len(held) == 1 and held[0]['host'] in ('gpu-a', 'gpu-c')
    assert _one(m, 'pooling_vgpus', state='ACTIVE', project='admin') == 1
    assert _one(m, 'pooling_host_up', host='cpu-1') == 1
    assert 0 <= _one(m, 'pooling_agent_heartbeat_age_seconds', host='gpu-a') < 60
    assert _one(m, 'pooling_claim_duration_seconds_count', outcome='claimed') >= 1
    assert _one(m, 'pooling_claim_refusals_total', reason='no_free_capacity') >= 1
    assert _one(m, 'pooling_scheduler_decision_duration_seconds_count') >= 2

    # A member of a project is not an admin: 403 in the API's error format.
    denied = c.as_('p1', 'member,reader').get('/metrics')
    assert denied.status_int == 403 and denied.json['errors'][0]['code'] == 'pooling.forbidden'

    # pooling-exporter: the same pool state over plain HTTP, no token.
    httpd = simple_server.make_server('127.0.0.1', 0, exporter.make_app(stack.conf))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = 'http://127.0.0.1:%d' % httpd.server_port
        with urllib.request.urlopen(url + '/metrics', timeout=10) as r:
            e = _scrape(r.read().decode())
        assert _one(e, 'pooling_pool_compute_allocated_cards', **key) == 0.25
        try:
            urllib.request.urlopen(url + '/other', timeout=10)
        except urllib.error.HTTPError as err:
            assert err.code == 404
        else:
            raise AssertionError('/other answered')
    finally:
        httpd.shutdown()

    # pooling-manage what-if on this database: the vGPUs just recorded, on 2x the hosts.
    proc = subprocess.run(
        [sys.executable, '-m', 'pooling.cmd.manage', '--database-connection', stack.db_url,
         'what-if', '--policy', 'binpack,spread', '--scale', '2', '--seeds', '1',
         '--format', 'json'], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result['arrivals_recorded'] == 1  # m2 was refused, it holds no record
    assert result['cards'] == {'A100-SXM4-80GB': 6, 'H100-SXM5-80GB': 2, 'Ascend910B': 2}
    assert set(result['policies']) == {'binpack', 'spread'}
    assert result['common_shapes'][0]['label'] == '25% 20480 MiB'
    bad = subprocess.run(
        [sys.executable, '-m', 'pooling.cmd.manage', '--database-connection', stack.db_url,
         'what-if', '--pool', 'nope'], capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and 'nope' in bad.stderr


def test_what_if_api(stack):
    c = stack.client
    for i in range(3):
        resp = c.post('/v1/vgpus', {'name': 'w%d' % i, 'compute_percent': 25,
                                    'memory_mb': 20480})
        assert resp.status_int == 201, resp.text
    resp = c.get('/v1/usage/what-if?policy=binpack,spread&seeds=1-2&scale=2')
    assert resp.status_int == 200, resp.text
    report = resp.json
    assert report['arrivals_recorded'] == 3 and report['seeds'] == [1, 2]
    assert report['cards'] == {'A100-SXM4-80GB': 6, 'H100-SXM5-80GB': 2, 'Ascend910B': 2}
    assert set(report['policies']) == {'binpack', 'spread'}
    cards = c.get('/v1/usage/what-if?policy=binpack&seeds=1&cards=A100-SXM4-80GB%3D8x1')
    assert cards.status_int == 200, cards.text
    assert cards.json['capacity_gpus'] == 8
    # Bad input says what is wrong; a member may not ask.
    for query, words in (('policy=nope', "unknown scheduling policy 'nope'"),
                         ('seeds=1-9', 'at most 5 seeds'),
                         ('scale=99', 'scale'),
                         ('cards=X9%3D1x1', 'give its memory'),
                         ('pool=nope', 'nope')):
        bad = c.get('/v1/usage/what-if?' + query)
        assert bad.status_int in (400, 404), (query, bad.text)
        assert words in bad.json['errors'][0]['detail'], (query, bad.json)
    denied = c.as_('p1', 'member,reader').get('/v1/usage/what-if')
    assert denied.status_int == 403
