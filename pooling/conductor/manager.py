"""The conductor: owns a vGPU's life after the claim, and keeps the pool honest.

It persists what agents report, drives SCHEDULED → PREPARING → ACTIVE and
RELEASING → DELETED by asking each slice's agent, turns any failure into ERROR
with a reason (freeing what the vGPU held), marks silent hosts down, and
re-drives vGPUs that a restart left half-way.

Casts are batched: each RPC handler only queues the uuid, and one thread per
kind of work (prepare, release) drains everything queued so far into one
transaction per step and one agent call per host. Under load a whole burst
costs what one vGPU did; when idle a batch is a single vGPU, as before.
"""

import collections
import datetime
import queue
import secrets
import threading

from oslo_log import log as logging
import oslo_messaging as messaging
from oslo_utils import timeutils

from pooling import context as pooling_context
from pooling.agent import platforms as platforms_hook
from pooling.agent import rpcapi as agent_rpcapi
from pooling.objects import host as host_obj
from pooling.objects import vgpu as vgpu_obj

LOG = logging.getLogger(__name__)
V = vgpu_obj


def _parse(iso: str) -> datetime.datetime:
    return datetime.datetime.strptime(iso, '%Y-%m-%dT%H:%M:%SZ')


def _brief(vgpu: dict) -> dict:
    """What an agent needs to know of a vGPU (no attachment secrets)."""
    return {k: vgpu[k] for k in ('uuid', 'project_id', 'compute_milli', 'memory_mb', 'count',
                                 'isolation', 'locality', 'consumer')}


def _remote(vgpu: dict) -> dict | None:
    """The remote endpoint for slices used from another host, with a per-vGPU token.

    NOTE: the remoting data plane is a plugin of its own (pooling.remoting); until
    one is configured the endpoint names the device host and the token, which is
    what a client needs, and nothing logs the token.
    """
    consumer_host = (vgpu.get('consumer') or {}).get('host')
    hosts = sorted({s['host'] for s in vgpu['slices']})
    if not consumer_host or hosts == [consumer_host]:
        return None
    return {'protocol': 'sim', 'endpoints': ['%s:%d' % (h, 14833) for h in hosts],
            'token': secrets.token_urlsafe(24)}


class _Batcher:
    """Run ``work(uuids)`` on one thread, each time on everything queued so far."""

    def __init__(self, name, work, max_batch=64):
        self._name, self._work, self._max = name, work, max_batch
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = None
        self._lock = threading.Lock()

    def submit(self, uuid: str) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=self._name,
                                                daemon=True)
                self._thread.start()
        self._queue.put(uuid)

    def stop(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                self._queue.put(None)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self._max:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)
                    break
                batch.append(item)
            try:
                self._work(list(dict.fromkeys(batch)))
            except Exception:
                # NOTE: what failed stays SCHEDULED/PREPARING/RELEASING and the
                # reconciler drives it again after [conductor] stuck_after.
                LOG.exception('%s of %d vGPU(s) failed', self._name, len(batch))


class ConductorManager:
    """RPC endpoint of pooling-conductor, plus the periodic work."""

    target = messaging.Target(version='1.0')

    def __init__(self, conf, transport=None, agents=None):
        self.conf = conf
        self.agents = agents or agent_rpcapi.AgentAPI(conf, transport)
        self.platforms = platforms_hook.notifier(conf, self.agents)
        self.ctx = pooling_context.get_admin_context()
        self._preparing = _Batcher('prepare', self.prepare_many)
        self._releasing = _Batcher('release', self.release_many)

    def stop(self) -> None:
        self._preparing.stop()
        self._releasing.stop()

    # RPC methods -------------------------------------------------------
    def report(self, context, host: dict, devices: list) -> None:
        host_obj.report(self.ctx, host['name'], host.get('pool') or 'default',
                        host.get('fabric'), host.get('cpu_milli', 0), host.get('ram_mb', 0),
                        devices)

    def prepare_vgpu(self, context, uuid: str) -> None:
        self._preparing.submit(uuid)

    def release_vgpu(self, context, uuid: str) -> None:
        self._releasing.submit(uuid)

    # The state machine ---------------------------------------------------
    def prepare(self, uuid: str) -> None:
        """SCHEDULED → PREPARING → ACTIVE, or ERROR with the agent's reason."""
        self.prepare_many([uuid])

    def release(self, uuid: str) -> None:
        """RELEASING → DELETED once every agent released its slice."""
        self.release_many([uuid])

    def prepare_many(self, uuids: list) -> None:
        vgpus = V.begin_prepare(self.ctx, uuids)
        failures, answers = self._on_agents('prepare_slices', vgpus, set())
        attachments = {}
        for vgpu in vgpus:
            outcome = failures.get(vgpu['uuid'])
            if outcome is None:
                attachments[vgpu['uuid']] = {
                    'slices': [a['attachment'] for a in answers[vgpu['uuid']]],
                    'remote': _remote(vgpu)}
            elif outcome[0] == 'timeout':
                # NOTE: an agent that does not answer may be restarting; the
                # reconciler retries until [conductor] prepare_timeout has passed.
                if timeutils.utcnow() - _parse(vgpu['created_at']) < datetime.timedelta(
                        seconds=self.conf.conductor.prepare_timeout):
                    LOG.warning('Agent did not answer for vGPU %s (%s); will retry',
                                vgpu['uuid'], outcome[3])
                    continue
                self.fail(vgpu['uuid'], 'agent on %s did not answer within %d s'
                          % (outcome[2], self.conf.conductor.prepare_timeout))
            else:
                LOG.warning('Preparing vGPU %s failed: %s', vgpu['uuid'], outcome[3])
                self.fail(vgpu['uuid'], 'preparing %s on %s failed: %s' % outcome[1:])
        done = V.activate(self.ctx, attachments) if attachments else []
        for uuid in done:
            LOG.info('vGPU %s is ACTIVE', uuid)
        self.platforms.attached(self.ctx, [dict(v, attachment=attachments[v['uuid']])
                                           for v in vgpus if v['uuid'] in done])
        late = [uuid for uuid in attachments if uuid not in done]
        if late:
            # A DELETE came in while we prepared: release what we made.
            self.release_many(late)

    def release_many(self, uuids: list) -> None:
        for uuid in self._give_back(V.get_vgpus(self.ctx, uuids, state=V.RELEASING),
                                    V.DELETED):
            LOG.info('vGPU %s is DELETED', uuid)

    def fail(self, uuid: str, reason: str) -> None:
        """ERROR with ``reason``; slices are released and capacity freed."""
        V.set_state(self.ctx, uuid, V.ERROR, reason=reason)
        self._give_back(V.get_vgpus(self.ctx, [uuid]), V.ERROR, reason)

    def _give_back(self, vgpus: list, final_state: str, reason: str = '') -> list:
        """Release each slice on its agent, then free what the fully released vGPUs held.

        Returns their uuids, now in ``final_state``; the others stay as they
        are and the reconciler tries again.
        """
        down = host_obj.down_hosts(self.ctx) if vgpus else set()
        # Platforms first: no consumer may start on capacity that is being given back.
        held = self.platforms.detach(self.ctx, vgpus, down)
        vgpus = [v for v in vgpus if v['uuid'] not in held]
        failures, _answers = self._on_agents('release_slices', vgpus, down)
        for uuid, (_kind, where, host, error) in failures.items():
            LOG.warning('Releasing %s of vGPU %s on %s failed: %s', where, uuid, host, error)
        released = [v['uuid'] for v in vgpus if v['uuid'] not in failures]
        if released:
            V.free_capacities(self.ctx, released, final_state, reason)
        return released

    def _on_agents(self, method: str, vgpus: list, skip_hosts) -> tuple[dict, dict]:
        """One ``method`` call per host with every slice of ``vgpus`` it holds.

        Returns ``(failures, answers)``: {uuid: (kind, where, host, error)} of
        each vGPU's first failed slice (kind ``timeout`` or ``error``), and
        {uuid: [the agents' answers, in slice index order]}.
        """
        by_host = collections.defaultdict(list)
        for vgpu in vgpus:
            for slice_ in vgpu['slices']:
                if slice_['host'] in skip_hosts:
                    # NOTE: a dead host cannot release; its agent drops unknown
                    # slices when it comes back, so the capacity is free now.
                    continue
                by_host[slice_['host']].append((vgpu, slice_))
        failures, per_slice = {}, {v['uuid']: {} for v in vgpus}
        for host, items in by_host.items():
            try:
                answers = getattr(self.agents, method)(
                    self.ctx, host, [{'vgpu': _brief(v), 'slice': s} for v, s in items])
            except messaging.MessagingTimeout as err:
                answers = [{'timeout': str(err)}] * len(items)
            except Exception as err:
                answers = [{'error': str(err)}] * len(items)
            for (vgpu, slice_), answer in zip(items, answers):
                kind = 'timeout' if 'timeout' in answer else 'error' if 'error' in answer else None
                if kind and vgpu['uuid'] not in failures:
                    failures[vgpu['uuid']] = (kind, 'slice %d' % slice_['index'], host,
                                              answer[kind])
                per_slice[vgpu['uuid']][slice_['index']] = answer
        return failures, {uuid: [answers[i] for i in sorted(answers)]
                          for uuid, answers in per_slice.items()}

    # Periodic work -------------------------------------------------------
    def periodic(self) -> None:
        """Mark silent hosts down and re-drive what a restart left half-way."""
        down = host_obj.mark_down_stale(self.ctx, self.conf.conductor.host_down_after)
        for name in down:
            LOG.warning('Host %s stopped sending heartbeats: marked down', name)
        stuck_after = self.conf.conductor.stuck_after
        stuck = V.stuck(self.ctx, (V.SCHEDULED, V.PREPARING), stuck_after)
        if stuck:
            LOG.info('Re-driving vGPUs left before ACTIVE: %s', ', '.join(stuck))
            self.prepare_many(stuck)
        self.release_many(V.stuck(self.ctx, (V.RELEASING,), stuck_after))
        self._give_back(V.get_vgpus(self.ctx, V.leaked(self.ctx)), V.ERROR)
        self.platforms.sync(self.ctx)
