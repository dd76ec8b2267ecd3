"""Moving remote vGPUs off a dead host or a failed backend.

A remote vGPU's consumer is on another host, so when its device host stops
heartbeating (or its backend cannot be restarted) the vGPU is re-placed on
another card of the consumer's fabric with the same shape and isolation: the
scheduler decides on a fresh model of the pool with the failed hosts down, one
transaction gives back the old slices and takes the new ones
(``pooling.objects.work.move``), the move is recorded on the vGPU, and the
usual prepare path starts the backend and admits the lease (a new lease id and
endpoint; the owner's credential stays valid). Running contexts are lost. A
vGPU that fits nowhere goes ERROR with the scheduler's reason.

vGPUs used on their own device host cannot move (their consumer died with
it): still preparing ones go ERROR (their capacity is freed), ACTIVE ones are
marked degraded.
"""

import threading

from oslo_log import log as logging

from pooling import claims
from pooling import exception
from pooling import scheduler
from pooling.objects import prepare as prepare_obj
from pooling.objects import vgpu as vgpu_obj
from pooling.objects import work as work_obj

LOG = logging.getLogger(__name__)
V = vgpu_obj


class Failover:
    def __init__(self, manager):
        self.manager = manager
        # NOTE: moves decide on a model of their own; one at a time so that
        # two moves never pick the same free space from two stale models.
        self._lock = threading.Lock()

    @property
    def ctx(self):
        return self.manager.ctx

    def handle_down(self, down: set) -> None:
        """Every vGPU with a slice on a down host: move, fail or flag it."""
        uuids = work_obj.on_hosts(self.ctx, down, (V.SCHEDULED, V.PREPARING, V.ACTIVE))
        for vgpu in V.get_vgpus(self.ctx, uuids):
            hosts = {s['host'] for s in vgpu['slices']} & down
            reason = 'host %s stopped heartbeating' % ', '.join(sorted(hosts))
            # NOTE: a remote vGPU whose consumer died with the host (a Nova guest's fraction
            # of its own host's card) has nobody to serve elsewhere: it is not moved.
            if (self.manager.request(vgpu).remote
                    and prepare_obj.consumer_runs_on(vgpu) not in down):
                self.move_off(vgpu['uuid'], down, reason)
            elif vgpu['state'] != V.ACTIVE:
                self.manager.fail(vgpu['uuid'], reason)
            elif not vgpu['degraded_reason']:
                work_obj.mark_degraded(self.ctx, vgpu['uuid'], reason)

    def move_off(self, uuid: str, bad_hosts: set, reason: str) -> bool:
        """Re-place the remote vGPU away from ``bad_hosts``; False when it went ERROR."""
        with self._lock:
            try:
                vgpu = V.get_vgpu(self.ctx, uuid)
            except exception.NotFound:
                return False
            if vgpu['state'] not in (V.SCHEDULED, V.PREPARING, V.ACTIVE):
                return False
            if not {s['host'] for s in vgpu['slices']} & set(bad_hosts):
                return True  # moved already (another pass or conductor)
            old = self.manager.request(vgpu)
            for _attempt in range(3):
                try:
                    placement = self._place(vgpu, bad_hosts)
                except scheduler.NoValidHost as err:
                    LOG.warning('vGPU %s cannot move off %s: %s', uuid, sorted(bad_hosts), err)
                    self.manager.fail(uuid, '%s; no card of the consumer\'s fabric fits it '
                                            'elsewhere: %s' % (reason, err))
                    return False
                try:
                    work_obj.move(self.ctx, uuid, placement, reason, self.manager.name)
                    break
                except exception.GenerationConflict:
                    continue
                except exception.NotFound:
                    return False
            else:
                LOG.warning('vGPU %s: the pool kept changing under its move; retried later',
                            uuid)
                return False
        LOG.warning('vGPU %s moved from %s to %s: %s', uuid,
                    ', '.join(sorted(old.hosts())), placement.host, reason)
        self._release_old(old, bad_hosts)
        self.manager.prepare_vgpu(self.ctx, uuid)
        return True

    def _place(self, vgpu: dict, bad_hosts: set):
        model = claims.load_model(self.ctx)
        consumer_host = (vgpu.get('consumer') or {}).get('host')
        for host in bad_hosts:
            try:
                # NOTE: the consumer's own heartbeat does not matter here (it may be a
                # host whose agent only registers it): the vGPU moves for its sake.
                model.set_host_up(host, host == consumer_host)
            except KeyError:
                pass
        chooser = scheduler.Scheduler(model, policy=self.manager.conf.scheduler.policy)
        spec = {'compute_milli': vgpu['compute_milli'], 'memory_mb': vgpu['memory_mb'],
                'count': vgpu['count'], 'models': vgpu['models'],
                'isolation': vgpu['isolation'], 'locality': vgpu['locality'],
                'link': vgpu.get('link'),
                'consumer': vgpu['consumer']}
        request = claims.to_request(spec)
        first_error = None
        for candidate in claims.snap(request, model.partition_shapes):
            try:
                return chooser.select(candidate)
            except scheduler.NoValidHost as err:
                first_error = first_error or err
        raise first_error

    def _release_old(self, old, bad_hosts: set) -> None:
        """Stop what the old placement ran on hosts that still answer (a failed backend)."""
        up = [h for h in old.hosts() if h not in self.manager.fanout.down]
        if not up:
            return
        per_host = {h: {old.vgpu_uuid: old.for_host(h).to_primitive()} for h in up}

        def on_done(ready):
            for outcomes in ready.values():
                for outcome in outcomes.values():
                    if outcome.kind != 'ok':
                        LOG.warning('Releasing the old slices of %s on %s: %s',
                                    old.vgpu_uuid, outcome.host, outcome.error)

        self.manager.fanout.run('release_vgpus', per_host, on_done, self.ctx)
