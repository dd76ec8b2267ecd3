"""The conductor: owns a vGPU's life after the claim, and keeps the pool honest.

It persists what agents report, drives SCHEDULED → PREPARING → ACTIVE and
RELEASING → DELETED by asking each slice's agent, turns any failure into ERROR
with a reason (freeing what the vGPU held), marks silent hosts down and moves
their remote vGPUs (pooling.conductor.failover), and takes over the work of
conductors that died (pooling.objects.work).

Casts are batched: each RPC handler only queues the uuid, and one thread per
kind of work (prepare, release) drains everything queued so far into one
transaction and one agent call per host. The agent calls run on per-host
executors (pooling.conductor.agents) and each vGPU is finished as soon as its
own hosts answered: a silent agent delays only its own vGPUs.
"""

import datetime
import os
import queue
import socket
import threading
import time

from oslo_log import log as logging
import oslo_messaging as messaging
from oslo_utils import timeutils

from pooling import context as pooling_context
from pooling.agent import platforms as platforms_hook
from pooling.agent import rpcapi as agent_rpcapi
from pooling.conductor import agents as fanout
from pooling.conductor import failover
from pooling.gateway import lease as lease_doc
from pooling.objects import host as host_obj
from pooling.objects import lease as lease_obj
from pooling.objects import prepare as prepare_obj
from pooling.objects import remote_traffic as traffic_obj
from pooling.objects import vgpu as vgpu_obj
from pooling.objects import work as work_obj

LOG = logging.getLogger(__name__)
V = vgpu_obj


def _parse(iso: str) -> datetime.datetime:
    return datetime.datetime.strptime(iso, '%Y-%m-%dT%H:%M:%SZ')


is_remote = prepare_obj.is_remote


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
                # NOTE: what failed stays SCHEDULED/PREPARING/RELEASING and is
                # driven again by the takeover or stuck passes.
                LOG.exception('%s of %d vGPU(s) failed', self._name, len(batch))


class ConductorManager:
    """RPC endpoint of pooling-conductor, plus the periodic work."""

    target = messaging.Target(version='1.1')

    def __init__(self, conf, transport=None, agents=None):
        self.conf = conf
        self.name = conf.conductor.name or '%s:%d' % (socket.gethostname(), os.getpid())
        self.agents = agents or agent_rpcapi.AgentAPI(conf, transport)
        self.platforms = platforms_hook.notifier(conf, self.agents)
        self.fanout = fanout.Fanout(conf, self.agents)
        self.ctx = pooling_context.get_admin_context()
        self._preparing = _Batcher('prepare', self.prepare_many)
        self._releasing = _Batcher('release', self.release_many)
        self.failover = failover.Failover(self)
        self._resumed = False
        # NOTE: since when this conductor could hear the hosts: its start, and
        # the end of any database outage (reports it could not persist).
        self._hearing_since = time.monotonic()

    def stop(self) -> None:
        self._preparing.stop()
        self._releasing.stop()
        self.fanout.stop()
        try:
            work_obj.forget(self.ctx, self.name)
        except Exception as err:
            LOG.warning('Could not drop the heartbeat of %s: %s', self.name, err)

    # RPC methods (1.1: held_on, backend_failed, push_lease) ---------------
    def _deaf(self) -> None:
        """A report or a heartbeat did not reach the database: hosts' silence is not theirs."""
        self._hearing_since = time.monotonic()

    def report(self, context, host: dict, devices: list) -> None:
        try:
            host_obj.report(self.ctx, host['name'], host.get('pool') or 'default',
                            host.get('fabric'), host.get('cpu_milli', 0), host.get('ram_mb', 0),
                            devices, links=host.get('links'), platform=host.get('platform'))
        except Exception:
            self._deaf()
            raise
        if host.get('remote_leases') is not None:
            try:
                traffic_obj.record(self.ctx, host['name'], host['remote_leases'])
            except Exception as err:  # counters never cost the heartbeat
                LOG.warning('Could not store the gateway counters of %s: %s', host['name'], err)
        if host['name'] in self.fanout.down:
            self.fanout.down.discard(host['name'])
            work_obj.clear_host_degraded(self.ctx, host['name'])

    def prepare_vgpu(self, context, uuid: str) -> None:
        self._preparing.submit(uuid)

    def release_vgpu(self, context, uuid: str) -> None:
        self._releasing.submit(uuid)

    def held_on(self, context, host: str) -> list:
        """The prepare requests of every live vGPU with a slice on ``host`` (agent restart)."""
        uuids = work_obj.on_hosts(self.ctx, [host], (V.SCHEDULED, V.PREPARING, V.ACTIVE))
        return [self.request(v).for_host(host).to_primitive()
                for v in V.get_vgpus(self.ctx, uuids)]

    def backend_failed(self, context, uuid: str, host: str, reason: str) -> None:
        """An agent gave up restarting a vGPU's remote backend: degraded, then moved."""
        LOG.warning('Remote backend of vGPU %s on %s failed: %s', uuid, host, reason)
        work_obj.mark_degraded(self.ctx, uuid, 'remote backend on %s failed: %s'
                               % (host, reason))
        self.failover.move_off(uuid, {host}, 'remote backend on %s failed: %s' % (host, reason))

    def push_lease(self, context, uuid: str) -> dict:
        """Tell the vGPU's gateways its current credential (or its revocation); waits."""
        vgpu = V.get_vgpu(self.ctx, uuid)
        request = self.request(vgpu)
        if not request.remote:
            return {'pushed': []}
        done = threading.Event()
        outcome = {}

        def on_done(ready):
            outcome.update(ready.get(uuid, {}))
            done.set()

        per_host = {h: {uuid: request.for_host(h).to_primitive()} for h in request.hosts()}
        self.fanout.run('update_leases', per_host, on_done, self.ctx)
        done.wait(self.conf.conductor.agent_timeout + 1)
        failed = {h: o.error for h, o in outcome.items() if o.kind != fanout.OK}
        if failed or not done.is_set():
            raise RuntimeError('gateways did not take the lease: %s'
                               % (failed or 'no answer in time'))
        return {'pushed': sorted(outcome)}

    # The typed request -----------------------------------------------------
    def request(self, vgpu: dict) -> prepare_obj.PrepareRequest:
        """The one request of the prepare path for ``vgpu`` (its lease without secret)."""
        lease = None
        if vgpu.get('lease'):
            lease = prepare_obj.Lease(
                lease_id=vgpu['lease']['lease_id'],
                token_sha256=vgpu.get('lease_token_sha256') or '',
                expires_at=vgpu['lease'].get('expires_at') or '',
                max_connections=self.conf.gateway.max_connections_per_lease)
        return prepare_obj.PrepareRequest.from_vgpu(vgpu, lease)

    # The state machine ---------------------------------------------------
    def prepare(self, uuid: str) -> None:
        """SCHEDULED → PREPARING → ACTIVE, or ERROR with the agent's reason (waits)."""
        self.prepare_many([uuid], wait=True)

    def release(self, uuid: str) -> None:
        """RELEASING → DELETED once every agent released its slice (waits)."""
        self.release_many([uuid], wait=True)

    def prepare_many(self, uuids: list, wait: bool = False) -> None:
        vgpus = V.begin_prepare(self.ctx, uuids, conductor=self.name, remote=is_remote)
        if not vgpus:
            return
        requests = {v['uuid']: self.request(v) for v in vgpus}
        by_uuid = {v['uuid']: v for v in vgpus}
        per_host: dict[str, dict] = {}
        for uuid, request in requests.items():
            for host in request.hosts():
                per_host.setdefault(host, {})[uuid] = request.for_host(host).to_primitive()
        futures = self.fanout.run(
            'prepare_vgpus', per_host,
            lambda ready: self._finish_prepare(ready, by_uuid, requests), self.ctx)
        if wait:
            for future in futures:
                future.result()

    def _finish_prepare(self, ready: dict, by_uuid: dict, requests: dict) -> None:
        attachments = {}
        for uuid, outcomes in ready.items():
            request = requests[uuid]
            bad = [o for o in outcomes.values() if o.kind != fanout.OK]
            if not bad:
                attachments[uuid] = self._attachment(request, outcomes)
                continue
            first = bad[0]
            if first.kind == fanout.DOWN and request.remote:
                self.failover.move_off(uuid, {o.host for o in bad}, first.error)
            elif first.kind == fanout.TIMEOUT and timeutils.utcnow() - _parse(
                    by_uuid[uuid]['created_at']) < datetime.timedelta(
                    seconds=self.conf.conductor.prepare_timeout):
                # NOTE: an agent that does not answer may be restarting; the
                # stuck pass retries until [conductor] prepare_timeout has passed.
                LOG.warning('Agent on %s did not answer for vGPU %s; will retry',
                            first.host, uuid)
            elif first.kind == fanout.TIMEOUT:
                self.fail(uuid, 'agent on %s did not answer within %d s'
                          % (first.host, self.conf.conductor.prepare_timeout))
            else:
                LOG.warning('Preparing vGPU %s failed on %s: %s', uuid, first.host, first.error)
                self.fail(uuid, 'preparing on %s failed: %s' % (first.host, first.error))
        done = V.activate(self.ctx, attachments) if attachments else []
        for uuid in done:
            LOG.info('vGPU %s is ACTIVE', uuid)
        activated = [dict(by_uuid[uuid], attachment=attachments[uuid]) for uuid in done]
        if activated:
            # NOTE: a thread of its own: issuing a credential pushes it to the gateways through
            # the same per-host fan-out whose callback we are running in.
            threading.Thread(target=self._attach_platforms, args=(activated,),
                             name='platform-attach', daemon=True).start()
        late = [uuid for uuid in attachments if uuid not in done]
        if late:
            # A DELETE came in while we prepared: release what we made.
            self.release_many(late)

    def _attach_platforms(self, vgpus: list, rotating: bool = False) -> None:
        """Hand newly ACTIVE vGPUs to their consumers' platform drivers (CDI, vSphere ...).

        A remote vGPU's attachment carries no credential (only its hash is kept), but a
        container, a VM's guestinfo or a bare-metal job gets its lease from the platform driver,
        not from ``pooling run --vgpu``: such vGPUs get a fresh credential here, pushed to their
        gateways first, and the platform receives the whole lease document. Nova's guests get
        theirs from vendordata instead. Issuing again (the owner's ``POST .../lease``) rotates it.
        ``rotating``: the periodic rotation of credentials about to expire (``rotate_leases``);
        a vGPU another conductor rotated first is left out.
        """
        out = []
        ttl = self.conf.gateway.credential_ttl
        for vgpu in vgpus:
            remote = (vgpu.get('attachment') or {}).get('remote')
            platform = (vgpu.get('consumer') or {}).get('platform')
            if remote and platform and platform not in platforms_hook.NOT_ON_AGENTS:
                try:
                    issued = (lease_obj.rotate_if_due(self.ctx, vgpu['uuid'], ttl, ttl // 3)
                              if rotating else lease_obj.issue(self.ctx, vgpu['uuid'], ttl))
                    if issued is None:
                        continue
                    token, lease = issued
                    self.push_lease(self.ctx, vgpu['uuid'])
                    vgpu = dict(vgpu, attachment=dict(vgpu['attachment'], remote=dict(
                        remote, version=lease_doc.VERSION, vgpu_uuid=vgpu['uuid'], token=token,
                        expires_at=lease['expires_at'])))
                except Exception as err:
                    LOG.warning('No credential for the %s lease of vGPU %s: %s', platform,
                                vgpu['uuid'], err)
                    if rotating:
                        continue  # the platform keeps the lease it has
            out.append(vgpu)
        try:
            self.platforms.attached(self.ctx, out)
        except Exception:
            LOG.exception('Handing vGPUs to their platforms failed')

    @staticmethod
    def _attachment(request, outcomes) -> dict:
        slices = {}
        for outcome in outcomes.values():
            for index, attachment in (outcome.answer.get('slices') or {}).items():
                slices[int(index)] = attachment
        attachment = {'slices': [slices[i] for i in sorted(slices)], 'remote': None,
                      **({V.LOCATION: request.consumer_location} if request.consumer_location
                         else {})}
        remotes = [outcomes[h].answer.get('remote') for h in request.hosts()]
        remotes = [r for r in remotes if r]
        if request.remote and remotes:
            # NOTE: what pooling.gateway.lease.LeaseDocument needs, less the
            # credential (the API adds it for the owner only).
            attachment['remote'] = {
                'protocol': remotes[0]['protocol'], 'lease_id': request.lease.lease_id,
                'endpoints': [{'gateway': r['gateway'], 'lease_id': r['lease_id'],
                               'cards': r['cards'], 'server_name': r.get('server_name', '')}
                              for r in remotes],
                'ca_cert': remotes[0].get('ca_cert', '')}
        return attachment

    def release_many(self, uuids: list, wait: bool = False) -> None:
        vgpus = V.get_vgpus(self.ctx, uuids, state=V.RELEASING)
        if vgpus:
            work_obj.claim_release(self.ctx, [v['uuid'] for v in vgpus], self.name)
            self._give_back(vgpus, V.DELETED, wait=wait)

    def fail(self, uuid: str, reason: str) -> None:
        """ERROR with ``reason``; slices are released and capacity freed."""
        V.set_state(self.ctx, uuid, V.ERROR, reason=reason)
        self._give_back(V.get_vgpus(self.ctx, [uuid]), V.ERROR, reason)

    def _give_back(self, vgpus: list, final_state: str, reason: str = '',
                   wait: bool = False) -> None:
        """Release each slice on its agent, then free what the fully released vGPUs held.

        A host marked down counts as released: its agent releases what the
        pool no longer holds when it comes back (``held_on``). vGPUs an agent
        failed to release stay as they are and the reconciler tries again.
        """
        if not vgpus:
            return
        down = host_obj.down_hosts(self.ctx)
        self.fanout.down = down
        # Platforms first: no consumer may start on capacity that is being given back.
        held = self.platforms.detach(self.ctx, vgpus, down)
        vgpus = [v for v in vgpus if v['uuid'] not in held]
        if not vgpus:
            return
        per_host: dict[str, dict] = {}
        for vgpu in vgpus:
            request = self.request(vgpu)
            for host in request.hosts():
                per_host.setdefault(host, {})[vgpu['uuid']] = (
                    request.for_host(host).to_primitive())

        def on_done(ready):
            released = []
            for uuid, outcomes in ready.items():
                bad = [o for o in outcomes.values()
                       if o.kind not in (fanout.OK, fanout.DOWN)]
                if bad:
                    LOG.warning('Releasing vGPU %s on %s failed: %s', uuid, bad[0].host,
                                bad[0].error)
                else:
                    released.append(uuid)
            if released:
                V.free_capacities(self.ctx, released, final_state, reason)
                if final_state == V.DELETED:
                    for uuid in released:
                        LOG.info('vGPU %s is DELETED', uuid)

        no_slices = [v['uuid'] for v in vgpus if not v['slices']]
        if no_slices:
            on_done({uuid: {} for uuid in no_slices})
        futures = self.fanout.run('release_vgpus', per_host, on_done, self.ctx)
        if wait:
            for future in futures:
                future.result()

    # Periodic work (pooling.service runs each on its own futurist periodic) -
    def heartbeat(self) -> None:
        """Beat, and take over what dead conductors (or lost casts) left."""
        try:
            work_obj.heartbeat(self.ctx, self.name)
        except Exception:
            self._deaf()
            raise
        # NOTE: the first pass also takes what this name stamped before a
        # restart (a fixed [conductor] name survives the process).
        prepare, release = work_obj.orphaned(self.ctx, self.name,
                                             self.conf.conductor.takeover_after,
                                             mine=not self._resumed)
        self._resumed = True
        if prepare or release:
            LOG.info('Taking over %d prepare(s) and %d release(s) no conductor drives',
                     len(prepare), len(release))
        for uuid in prepare:
            self._preparing.submit(uuid)
        for uuid in release:
            self._releasing.submit(uuid)

    def check_hosts(self) -> None:
        """Mark silent hosts down and handle their vGPUs (remote ones move).

        Agents report to the conductors, so a conductor that started (or
        could not write to the database) less than ``host_down_after`` ago
        cannot tell a silent host from the time it could not hear: it marks
        nothing down until then (the fault suite saw a restarted conductor,
        and a conductor after a MariaDB restart, mark every host down and
        fail the prepares queued meanwhile). Hosts already down stay down.
        """
        down = []
        if time.monotonic() - self._hearing_since >= self.conf.conductor.host_down_after:
            down = host_obj.mark_down_stale(self.ctx, self.conf.conductor.host_down_after)
        for name in down:
            LOG.warning('Host %s stopped sending heartbeats: marked down', name)
        self.fanout.down = host_obj.down_hosts(self.ctx)
        if self.fanout.down:
            self.failover.handle_down(self.fanout.down)

    def rotate_leases(self) -> None:
        """Give a platform-held lease a new credential in the last third of its life.

        The running programs' connections stay (a gateway keeps them when only the credential
        changes); the platform's copy (lease file, guestinfo, fw_cfg) is rewritten, so the next
        ``pooling run`` there finds a live lease instead of an expired one.
        """
        ttl = self.conf.gateway.credential_ttl
        due = lease_obj.due_on_platforms(self.ctx, ttl // 3, platforms_hook.NOT_ON_AGENTS)
        if due:
            LOG.info('Rotating the platform-held credentials of %s', ', '.join(due))
            self._attach_platforms(V.get_vgpus(self.ctx, due), rotating=True)

    def periodic(self) -> None:
        """Re-drive what is stuck, free leaks, revoke expired credentials."""
        stuck_after = self.conf.conductor.stuck_after
        stuck = V.stuck(self.ctx, (V.SCHEDULED, V.PREPARING), stuck_after)
        if stuck:
            LOG.info('Re-driving vGPUs left before ACTIVE: %s', ', '.join(stuck))
            self.prepare_many(stuck)
        self.release_many(V.stuck(self.ctx, (V.RELEASING,), stuck_after))
        self._give_back(V.get_vgpus(self.ctx, V.leaked(self.ctx)), V.ERROR)
        self.platforms.sync(self.ctx)
        self.rotate_leases()
        expired = lease_obj.expired(self.ctx)
        if expired:
            lease_obj.clear_expired(self.ctx, expired)
            for uuid in expired:
                LOG.info('Credential of vGPU %s expired: revoking it in its gateways', uuid)
                try:
                    self.push_lease(self.ctx, uuid)
                except Exception as err:
                    LOG.warning('Revoking the expired credential of %s: %s', uuid, err)
