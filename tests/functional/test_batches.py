"""The conductor's batches: many vGPUs per transaction and per agent call (MariaDB, RabbitMQ).

The batch thread drains whatever was queued while it worked; a slice that fails
on its agent fails only its own vGPU.
"""

import threading


def _endpoint(stack):
    return stack.services['conductor'].endpoint


def _record_batches(endpoint, name):
    sizes = []
    original = getattr(endpoint, name)

    def record(uuids):
        sizes.append(len(uuids))
        return original(uuids)
    setattr(endpoint, name, record)
    batcher = endpoint._preparing if name == 'prepare_many' else endpoint._releasing
    batcher._work = record
    return sizes


def test_a_burst_is_prepared_and_released_in_batches(stack):
    c = stack.client
    endpoint = _endpoint(stack)
    prepared = _record_batches(endpoint, 'prepare_many')
    released = _record_batches(endpoint, 'release_many')
    before = {d['uuid']: d['free'] for d in c.get('/v1/devices').json['devices']}
    # Hold the batch threads back while the burst arrives, so it queues up.
    gate = threading.Event()
    for batcher in (endpoint._preparing, endpoint._releasing):
        work = batcher._work
        batcher._work = (lambda w: lambda uuids: (gate.wait(10), w(uuids))[1])(work)
    uuids = []
    for i in range(8):
        resp = c.post('/v1/vgpus', {'name': 'burst-%d' % i, 'compute_percent': 10,
                                    'memory_mb': 1024})
        assert resp.status_int == 201, resp.text
        uuids.append(resp.json['uuid'])
    gate.set()
    for uuid in uuids:
        stack.wait_state(uuid, ('ACTIVE',))
    for uuid in uuids:
        assert c.delete('/v1/vgpus/' + uuid).status_int == 202
    for uuid in uuids:
        stack.wait_state(uuid, ('DELETED',))
    assert sum(prepared) == 8 and max(prepared) > 1, prepared
    assert sum(released) == 8 and max(released) > 1, released
    after = {d['uuid']: d['free'] for d in c.get('/v1/devices').json['devices']}
    assert after == before


def test_a_failed_slice_fails_only_its_vgpu(stack):
    c = stack.client
    endpoint = _endpoint(stack)
    before = {d['uuid']: d['free'] for d in c.get('/v1/devices').json['devices']}
    real = endpoint.agents
    doomed = []

    class FailOne:
        """The real agents, except that the first vGPU named 'doomed' fails to prepare."""

        def prepare_vgpus(self, ctx, host, requests):
            answers = real.prepare_vgpus(ctx, host, requests)
            return {uuid: ({'error': 'device fell off the bus'} if uuid in doomed else a)
                    for uuid, a in answers.items()}

        def release_vgpus(self, ctx, host, requests):
            return real.release_vgpus(ctx, host, requests)

    endpoint.agents = endpoint.fanout.agents = FailOne()
    try:
        gate = threading.Event()
        work = endpoint._preparing._work
        endpoint._preparing._work = lambda uuids: (gate.wait(10), work(uuids))[1]
        ok = c.post('/v1/vgpus', {'name': 'fine', 'compute_percent': 10, 'memory_mb': 1024})
        bad = c.post('/v1/vgpus', {'name': 'doomed', 'compute_percent': 10, 'memory_mb': 1024})
        doomed.append(bad.json['uuid'])
        gate.set()
        assert stack.wait_state(ok.json['uuid'], ('ACTIVE',))['state'] == 'ACTIVE'
        failed = stack.wait_state(bad.json['uuid'], ('ERROR',))
        assert 'device fell off the bus' in failed['state_reason']
        assert failed['state_reason'].startswith('preparing on ')
        assert c.delete('/v1/vgpus/' + ok.json['uuid']).status_int == 202
        stack.wait_state(ok.json['uuid'], ('DELETED',))
    finally:
        endpoint.agents = endpoint.fanout.agents = real
    # The failed vGPU gave its capacity back; nothing is left held.
    after = {d['uuid']: d['free'] for d in c.get('/v1/devices').json['devices']}
    assert after == before


def test_a_silent_agent_stalls_only_its_own_vgpus(stack):
    """Issue 13: hosts were called one after another, so one silent agent froze every batch.

    Fails before per-host executors: the vGPU on the healthy host waited for
    the silent host's call (here held for 15 s, past wait_state's 10 s).
    """
    c = stack.client
    endpoint = _endpoint(stack)
    real = endpoint.agents
    release = threading.Event()

    class SilentGpuA:
        def prepare_vgpus(self, ctx, host, requests):
            if host == 'gpu-a':
                release.wait(15)
            return real.prepare_vgpus(ctx, host, requests)

        def release_vgpus(self, ctx, host, requests):
            return real.release_vgpus(ctx, host, requests)

    endpoint.agents = endpoint.fanout.agents = SilentGpuA()
    try:
        gate = threading.Event()
        work = endpoint._preparing._work
        endpoint._preparing._work = lambda uuids: (gate.wait(10), work(uuids))[1]
        on_a = c.post('/v1/vgpus', {'compute_percent': 10, 'memory_mb': 1024, 'locality':
                                    'local', 'consumer': {'platform': 'other', 'host': 'gpu-a',
                                                          'id': 'a'}}).json
        on_c = c.post('/v1/vgpus', {'compute_percent': 10, 'memory_mb': 1024, 'locality':
                                    'local', 'consumer': {'platform': 'other', 'host': 'gpu-c',
                                                          'id': 'c'}}).json
        gate.set()  # both in one batch
        assert stack.wait_state(on_c['uuid'], ('ACTIVE',), timeout=10)['state'] == 'ACTIVE'
        assert c.get('/v1/vgpus/' + on_a['uuid']).json['state'] == 'PREPARING'
        release.set()
        stack.wait_state(on_a['uuid'], ('ACTIVE',))
    finally:
        release.set()
        endpoint.agents = endpoint.fanout.agents = real
