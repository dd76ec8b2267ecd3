"""Write doc/source/admin/grafana-pooling.json, the Grafana dashboard of pooling's metrics.

python tools/grafana_dashboard.py > doc/source/admin/grafana-pooling.json

Kept as code so that every panel's query names metrics pooling.metrics exports (a unit test
checks it) and the JSON stays reviewable.
"""

import json
import sys

DS = {'type': 'prometheus', 'uid': '${datasource}'}


def _panel(pid, title, exprs, x, y, w=12, h=8, unit='short', kind='timeseries', stack=False,
           description=''):
    targets = [{'refId': chr(65 + i), 'expr': e, 'legendFormat': legend, 'datasource': DS}
               for i, (e, legend) in enumerate(exprs)]
    custom = {'stacking': {'mode': 'normal' if stack else 'none'}, 'fillOpacity': 20 if stack
              else 0}
    return {'id': pid, 'type': kind, 'title': title, 'description': description,
            'datasource': DS, 'gridPos': {'x': x, 'y': y, 'w': w, 'h': h}, 'targets': targets,
            'fieldConfig': {'defaults': {'unit': unit, 'custom': custom}, 'overrides': []},
            'options': {'legend': {'displayMode': 'table', 'placement': 'right'}}}


def dashboard() -> dict:
    sel = 'pool=~"$pool"'
    panels = [
        _panel(1, 'Compute by model (cards)', [
            ('sum by (model) (pooling_pool_compute_allocated_cards{%s})' % sel,
             'allocated {{model}}'),
            ('sum by (model) (pooling_pool_compute_free_cards{%s})'
             ' - sum by (model) (pooling_pool_compute_stranded_cards{%s})' % (sel, sel),
             'free usable {{model}}'),
            ('sum by (model) (pooling_pool_compute_stranded_cards{%s})' % sel,
             'stranded {{model}}'),
        ], 0, 0, stack=True, description='Allocated, free and stranded compute; stacked, '
                                         'they add up to the healthy capacity.'),
        _panel(2, 'Stranded share of free compute', [
            ('sum by (model) (pooling_pool_compute_stranded_cards{%s}) / '
             'clamp_min(sum by (model) (pooling_pool_compute_free_cards{%s}), 0.001)'
             % (sel, sel), '{{model}}'),
        ], 12, 0, unit='percentunit', description='Free compute no common shape fits: '
                                                  'fragmentation.'),
        _panel(3, 'Memory by model', [
            ('sum by (model) (pooling_pool_memory_allocated_bytes{%s})' % sel,
             'allocated {{model}}'),
            ('sum by (model) (pooling_pool_memory_free_bytes{%s})' % sel, 'free {{model}}'),
        ], 0, 8, unit='bytes', stack=True),
        _panel(4, 'vGPUs by state', [
            ('sum by (state) (pooling_vgpus)', '{{state}}'),
        ], 12, 8, stack=True),
        _panel(5, 'Claim latency', [
            ('histogram_quantile(0.5, sum by (le) (rate('
             'pooling_claim_duration_seconds_bucket{outcome="claimed"}[5m])))', 'p50'),
            ('histogram_quantile(0.99, sum by (le) (rate('
             'pooling_claim_duration_seconds_bucket{outcome="claimed"}[5m])))', 'p99'),
        ], 0, 16, unit='s'),
        _panel(6, 'Scheduler decision time', [
            ('histogram_quantile(0.99, sum by (le) (rate('
             'pooling_scheduler_decision_duration_seconds_bucket[5m])))', 'p99'),
        ], 12, 16, unit='s'),
        _panel(7, 'Claims refused (409) by reason', [
            ('sum by (reason) (rate(pooling_claim_refusals_total[5m]))', '{{reason}}'),
        ], 0, 24, unit='reqps', stack=True),
        _panel(8, 'Agent heartbeat age', [
            ('max by (host) (pooling_agent_heartbeat_age_seconds{%s})' % sel, '{{host}}'),
        ], 12, 24, unit='s'),
        _panel(9, 'vGPUs by project', [
            ('topk(10, sum by (project) (pooling_vgpus{state="ACTIVE"}))', '{{project}}'),
        ], 0, 32, kind='bargauge'),
        _panel(10, 'Free compute per card', [
            ('pooling_device_compute_free_cards{%s}' % sel, '{{host}} {{device}}'),
        ], 12, 32, kind='bargauge', unit='percentunit'),
        _panel(11, 'Unhealthy cards and down hosts', [
            ('count(pooling_device_healthy{%s} == 0) or vector(0)' % sel, 'unhealthy cards'),
            ('count(pooling_host_up{%s} == 0) or vector(0)' % sel, 'down hosts'),
        ], 0, 40, kind='stat'),
        _panel(12, 'Remote traffic by vGPU (top 10)', [
            ('topk(10, sum by (vgpu, project) (rate(pooling_remote_bytes_total[5m])))',
             '{{vgpu}} ({{project}})'),
        ], 12, 40, unit='Bps', description='Bytes each second through the device hosts\' '
                                            'gateways, both directions, per remote vGPU.'),
        _panel(13, 'Remote traffic by direction', [
            ('sum by (direction) (rate(pooling_remote_bytes_total[5m]))', '{{direction}}'),
        ], 0, 48, unit='Bps', stack=True, description='"in": consumer to card; "out": card to '
                                                      'consumer.'),
        _panel(14, 'Remote connections', [
            ('sum(pooling_remote_open_connections)', 'open'),
            ('sum(rate(pooling_remote_connections_total[5m])) * 60', 'admitted per minute'),
        ], 12, 48),
    ]
    return {
        'title': 'pooling: accelerator pool', 'uid': 'pooling-pool', 'schemaVersion': 39,
        'version': 1, 'editable': True, 'time': {'from': 'now-6h', 'to': 'now'},
        'refresh': '30s', 'tags': ['pooling', 'openstack', 'gpu'],
        'templating': {'list': [
            {'name': 'datasource', 'type': 'datasource', 'query': 'prometheus',
             'label': 'Prometheus'},
            {'name': 'pool', 'type': 'query', 'datasource': DS, 'label': 'Pool',
             'query': {'query': 'label_values(pooling_pool_devices, pool)', 'refId': 'pool'},
             'includeAll': True, 'multi': True, 'allValue': '.*', 'refresh': 2},
        ]},
        'panels': panels,
    }


if __name__ == '__main__':
    json.dump(dashboard(), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write('\n')
