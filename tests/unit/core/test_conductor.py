"""The remote endpoint a vGPU gets when its slices are on another host."""

from pooling.conductor import manager


def _vgpu(consumer_host, *hosts):
    return {'consumer': {'platform': 'other', 'host': consumer_host, 'id': 'x'}
            if consumer_host else None,
            'slices': [{'host': h} for h in hosts]}


def test_local_or_unplaced_consumer_gets_no_remote():
    assert manager._remote(_vgpu('h1', 'h1')) is None
    assert manager._remote(_vgpu(None, 'h1')) is None


def test_remote_slices_get_endpoints_and_a_fresh_token():
    first = manager._remote(_vgpu('c1', 'h1', 'h2'))
    second = manager._remote(_vgpu('c1', 'h1', 'h2'))
    assert [e.split(':')[0] for e in first['endpoints']] == ['h1', 'h2']
    assert len(first['token']) >= 32 and first['token'] != second['token']
