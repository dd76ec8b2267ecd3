"""Agent calls: one bounded executor per host; a silent host holds only its own calls."""

import threading
import time
import types

import oslo_messaging as messaging

from pooling.conductor import agents


def _conf(per_host=2):
    return types.SimpleNamespace(conductor=types.SimpleNamespace(agent_calls_per_host=per_host))


class Agents:
    def __init__(self, hang=()):
        self.hang, self.release = set(hang), threading.Event()
        self.in_flight, self.most = {}, {}
        self.lock = threading.Lock()

    def prepare_vgpus(self, ctx, host, requests):
        with self.lock:
            self.in_flight[host] = self.in_flight.get(host, 0) + 1
            self.most[host] = max(self.most.get(host, 0), self.in_flight[host])
        try:
            if host in self.hang:
                self.release.wait(5)
                raise messaging.MessagingTimeout('no answer')
            time.sleep(0.02)
            return {r['vgpu_uuid']: {'slices': {}, 'error': None} for r in requests}
        finally:
            with self.lock:
                self.in_flight[host] -= 1


def test_a_silent_host_does_not_delay_the_others_and_each_host_is_bounded():
    fake = Agents(hang={'dead'})
    fanout = agents.Fanout(_conf(2), fake)
    done, lock = {}, threading.Lock()

    def on_done(ready):
        with lock:
            done.update(ready)

    futures = []
    for i in range(6):
        futures += fanout.run('prepare_vgpus', {
            'dead': {'d%d' % i: {'vgpu_uuid': 'd%d' % i}},
            'ok': {'o%d' % i: {'vgpu_uuid': 'o%d' % i}}}, on_done, None)
    deadline = time.monotonic() + 3
    while len([u for u in done if u.startswith('o')]) < 6 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sorted(u for u in done if u.startswith('o')) == ['o%d' % i for i in range(6)]
    assert not [u for u in done if u.startswith('d')]
    assert fake.most['dead'] <= 2 and fake.most['ok'] <= 2
    fake.release.set()
    for future in futures:
        future.result(10)
    assert done['d0']['dead'].kind == agents.TIMEOUT
    fanout.stop()


def test_a_vgpu_on_two_hosts_finishes_when_both_answered_and_down_hosts_are_not_called():
    fake = Agents()
    fanout = agents.Fanout(_conf(), fake)
    fanout.down = {'gone'}
    seen = []
    futures = fanout.run('prepare_vgpus', {'a': {'v': {'vgpu_uuid': 'v'}},
                                           'b': {'v': {'vgpu_uuid': 'v'}},
                                           'gone': {'w': {'vgpu_uuid': 'w'}}},
                         seen.append, None)
    for future in futures:
        future.result(5)
    by_uuid = {u: o for ready in seen for u, o in ready.items()}
    assert sorted(by_uuid['v']) == ['a', 'b'] and by_uuid['w']['gone'].kind == agents.DOWN
    assert 'gone' not in fake.most
    fanout.stop()
