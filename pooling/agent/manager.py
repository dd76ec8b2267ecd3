"""The agent: one per host; reports devices and prepares or releases slices.

Its periodic report is also its heartbeat: the conductor marks a host down
when reports stop. The agent holds no DB credentials; it talks RPC only.
"""

import threading

from oslo_log import log as logging
import oslo_messaging as messaging

from pooling import context as pooling_context
from pooling.agent import driver_loader
from pooling.agent import slices as slices_mod

LOG = logging.getLogger(__name__)


def driver_options(conf) -> dict:
    """Per-driver options from the agent's config (drivers never read config)."""
    sim = {'host': conf.agent.host, 'devices': conf.agent.sim_devices or ''}
    if conf.agent.sim_health_file:
        sim['health_file'] = conf.agent.sim_health_file
    return {'sim': sim}


class AgentManager:
    """RPC endpoint of pooling-agent on ``conf.agent.host``."""

    target = messaging.Target(version='1.1')

    def __init__(self, conf, conductor, drivers=None, preparer=None):
        self.conf = conf
        self.host = conf.agent.host
        self.conductor = conductor
        if drivers is None:
            drivers = driver_loader.load_accelerator_drivers(conf.agent.enabled_drivers,
                                                             driver_options(conf))
        self.drivers = drivers
        self.preparer = preparer or slices_mod.SlicePreparer(drivers)
        self.ctx = pooling_context.get_admin_context()
        self._stop = threading.Event()

    def discover(self) -> list[dict]:
        """Every device with its hard-partition shapes (the scheduler snaps to them)."""
        return driver_loader.device_report(self.drivers)

    def report_once(self) -> None:
        """Send the host's devices and health to the conductor (the heartbeat)."""
        host = {'name': self.host, 'pool': self.conf.agent.pool,
                'fabric': self.conf.agent.fabric, 'cpu_milli': self.conf.agent.cpu_milli,
                'ram_mb': self.conf.agent.ram_mb}
        self.conductor.report(self.ctx, host, self.discover())

    def run_reports(self) -> None:
        """Report every [agent] report_interval seconds until stopped."""
        while not self._stop.is_set():
            try:
                self.report_once()
            except Exception as err:
                LOG.warning('Report to the conductor failed: %s', err)
            self._stop.wait(self.conf.agent.report_interval)

    def stop(self) -> None:
        self._stop.set()

    # RPC methods -------------------------------------------------------
    # NOTE: one call carries every slice the conductor has for this host
    # (its batches); each slice answers on its own, so one failure does not
    # fail the others: [{'attachment': ...} | {'error': reason}, ...].
    def prepare_slices(self, context, items: list) -> list:
        return self._each(items, 'Preparing', lambda uuid, slice_: {
            'attachment': self.preparer.prepare(uuid, slice_)})

    def release_slices(self, context, items: list) -> list:
        return self._each(items, 'Releasing', lambda uuid, slice_: (
            self.preparer.release(uuid, slice_), {})[1])

    def _each(self, items, doing: str, act) -> list:
        answers = []
        for item in items:
            vgpu, slice_ = item['vgpu'], item['slice']
            LOG.info('%s slice %s of vGPU %s on device %s', doing, slice_['index'],
                     vgpu['uuid'], slice_['device_uuid'])
            try:
                answers.append(act(vgpu['uuid'], self._slice(vgpu, slice_)))
            except Exception as err:
                LOG.warning('%s slice %s of vGPU %s failed: %s', doing, slice_['index'],
                            vgpu['uuid'], err)
                answers.append({'error': str(err)})
        return answers

    @staticmethod
    def _slice(vgpu, slice_) -> dict:
        return {'index': slice_['index'], 'device_uuid': slice_['device_uuid'],
                'compute_milli': slice_['compute_milli'], 'memory_mb': slice_['memory_mb'],
                'isolation': vgpu.get('isolation'), 'count': vgpu.get('count', 1)}
