"""The conductor: owns a vGPU's life after the claim, and keeps the pool honest.

It persists what agents report, drives SCHEDULED → PREPARING → ACTIVE and
RELEASING → DELETED by asking each slice's agent, turns any failure into ERROR
with a reason (freeing what the vGPU held), marks silent hosts down, and
re-drives vGPUs that a restart left half-way.
"""

import datetime
import secrets

from oslo_log import log as logging
import oslo_messaging as messaging
from oslo_utils import timeutils

from pooling import context as pooling_context
from pooling import exception
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


class ConductorManager:
    """RPC endpoint of pooling-conductor, plus the periodic work."""

    target = messaging.Target(version='1.0')

    def __init__(self, conf, transport=None, agents=None):
        self.conf = conf
        self.agents = agents or agent_rpcapi.AgentAPI(conf, transport)
        self.ctx = pooling_context.get_admin_context()

    # RPC methods -------------------------------------------------------
    def report(self, context, host: dict, devices: list) -> None:
        host_obj.report(self.ctx, host['name'], host.get('pool') or 'default',
                        host.get('fabric'), host.get('cpu_milli', 0), host.get('ram_mb', 0),
                        devices)

    def prepare_vgpu(self, context, uuid: str) -> None:
        try:
            self.prepare(uuid)
        except exception.NotFound:
            LOG.warning('Asked to prepare vGPU %s, which does not exist', uuid)

    def release_vgpu(self, context, uuid: str) -> None:
        try:
            self.release(uuid)
        except exception.NotFound:
            LOG.warning('Asked to release vGPU %s, which does not exist', uuid)

    # The state machine ---------------------------------------------------
    def prepare(self, uuid: str) -> None:
        """SCHEDULED → PREPARING → ACTIVE, or ERROR with the agent's reason."""
        if not V.set_state(self.ctx, uuid, V.PREPARING, expected=(V.SCHEDULED, V.PREPARING)):
            return
        vgpu = V.get_vgpu(self.ctx, uuid)
        attachments = []
        try:
            for slice_ in vgpu['slices']:
                attachments.append(self.agents.prepare_slice(self.ctx, slice_['host'],
                                                             _brief(vgpu), slice_))
        except messaging.MessagingTimeout as err:
            # NOTE: an agent that does not answer may be restarting; the
            # reconciler retries until [conductor] prepare_timeout has passed.
            if timeutils.utcnow() - _parse(vgpu['created_at']) < datetime.timedelta(
                    seconds=self.conf.conductor.prepare_timeout):
                LOG.warning('Agent did not answer for vGPU %s (%s); will retry', uuid, err)
                return
            self.fail(uuid, 'agent on %s did not answer within %d s'
                      % (vgpu['slices'][len(attachments)]['host'],
                         self.conf.conductor.prepare_timeout))
            return
        except Exception as err:  # any other agent failure ends in ERROR
            LOG.warning('Preparing vGPU %s failed: %s', uuid, err)
            self.fail(uuid, 'preparing slice %d on %s failed: %s'
                      % (len(attachments), vgpu['slices'][len(attachments)]['host'], err))
            return
        attachment = {'slices': attachments, 'remote': _remote(vgpu)}
        if not V.set_state(self.ctx, uuid, V.ACTIVE, attachment=attachment,
                           expected=(V.PREPARING,)):
            # A DELETE came in while we prepared: release what we made.
            self.release(uuid)
            return
        LOG.info('vGPU %s is ACTIVE', uuid)

    def release(self, uuid: str) -> None:
        """RELEASING → DELETED once every agent released its slice."""
        vgpu = V.get_vgpu(self.ctx, uuid)
        if vgpu['state'] != V.RELEASING:
            return
        if not self._release_slices(vgpu):
            return  # the reconciler tries again
        V.free_capacity(self.ctx, uuid, V.DELETED)
        LOG.info('vGPU %s is DELETED', uuid)

    def fail(self, uuid: str, reason: str) -> None:
        """ERROR with ``reason``; slices are released and capacity freed."""
        V.set_state(self.ctx, uuid, V.ERROR, reason=reason)
        vgpu = V.get_vgpu(self.ctx, uuid)
        if self._release_slices(vgpu):
            V.free_capacity(self.ctx, uuid, V.ERROR, reason)

    def _release_slices(self, vgpu) -> bool:
        down = host_obj.down_hosts(self.ctx)
        ok = True
        for slice_ in vgpu['slices']:
            if slice_['host'] in down:
                # NOTE: a dead host cannot release; its agent drops unknown
                # slices when it comes back, so the capacity is free now.
                continue
            try:
                self.agents.release_slice(self.ctx, slice_['host'], _brief(vgpu), slice_)
            except Exception as err:
                LOG.warning('Releasing slice %d of vGPU %s on %s failed: %s',
                            slice_['index'], vgpu['uuid'], slice_['host'], err)
                ok = False
        return ok

    # Periodic work -------------------------------------------------------
    def periodic(self) -> None:
        """Mark silent hosts down and re-drive what a restart left half-way."""
        down = host_obj.mark_down_stale(self.ctx, self.conf.conductor.host_down_after)
        for name in down:
            LOG.warning('Host %s stopped sending heartbeats: marked down', name)
        stuck_after = self.conf.conductor.stuck_after
        for uuid in V.stuck(self.ctx, (V.SCHEDULED, V.PREPARING), stuck_after):
            LOG.info('Re-driving vGPU %s left before ACTIVE', uuid)
            V.set_state(self.ctx, uuid, V.SCHEDULED, expected=(V.PREPARING,))
            self.prepare(uuid)
        for uuid in V.stuck(self.ctx, (V.RELEASING,), stuck_after):
            self.release(uuid)
        for uuid in V.leaked(self.ctx):
            vgpu = V.get_vgpu(self.ctx, uuid)
            if self._release_slices(vgpu):
                V.free_capacity(self.ctx, uuid, V.ERROR)
