"""bench.remote: a tiny run writes the JSON keys the issue names and a PNG."""

import json
import os

from bench import remote


def test_tiny_run_writes_ratio_and_added_latency(tmp_path):
    out, png = tmp_path / 'r.json', tmp_path / 'r.png'
    assert remote.main(['--json', str(out), '--png', str(png), '--repeat', '1', '--reps', '1',
                        '--calls', '50', '--sizes', '1,16']) == 0
    result = json.loads(out.read_text())
    assert set(result['sizes_mib']) == {'1', '16'}
    assert result['throughput_ratio'] == result['sizes_mib']['16']['ratio'] > 0
    assert isinstance(result['added_p50_us'], float)
    assert result['cpu_s_per_gib']['gateway'] > 0
    assert png.exists() and png.stat().st_size > 1000
    bound = result['cpu_bound']
    # The TLS-only bound adds the crypto to the direct path's own stages: never above direct.
    # (Not compared with the gateway's: the two are measured apart, and load moves each.)
    assert 0 < bound['tls_only_ratio_core_per_stage'] <= 1
    assert 0 < bound[f'tls_only_ratio_{os.cpu_count() or 1}_cores'] <= 1
