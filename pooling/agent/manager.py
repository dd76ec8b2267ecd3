"""The agent: one per host; reports devices and prepares or releases slices.

Its periodic report is also its heartbeat: the conductor marks a host down
when reports stop. The agent holds no DB credentials; it talks RPC only.

It receives ``pooling.objects.prepare.PrepareRequest`` primitives (one per
vGPU, cut to this host), rebuilds them once and hands each plugin its own
contract's dataclass: the slice preparer (``pooling.isolation``) a
``SliceRequest`` per slice, and, when the consumer is on another host, the
remote side (``pooling.remoting`` + the gateway) a ``RemoteSliceRequest``.

After a restart it adopts what it recorded (slices, remote backends) and asks
the conductor what the pool still holds on this host, releasing the rest.
"""

import os
import threading

from oslo_log import log as logging
import oslo_messaging as messaging

from pooling import context as pooling_context
from pooling.agent import capacity
from pooling.agent import driver_loader
from pooling.agent import remote as remote_mod
from pooling.agent import slices as slices_mod
from pooling.objects import prepare as prepare_obj

LOG = logging.getLogger(__name__)


def state_dir(conf) -> str:
    """This agent's own folder: ``[agent] state_dir/<host>`` ('' keeps records in memory).

    Per host name, so that agents sharing a machine (the benchmarks, devstack's
    simulated hosts) never adopt or release each other's slices.
    """
    if not conf.agent.state_dir:
        return ''
    return os.path.join(conf.agent.state_dir, conf.agent.host)


def driver_options(conf) -> dict:
    """Per-driver options from the agent's config (drivers never read config).

    ``sim`` from ``[agent] sim_*`` (its partitions recorded under ``state_dir``
    so they outlive an agent restart, as a real card's do); every other
    driver from the group named after it (``[nvidia]``, ``[hygon]``), as strings.
    """
    sim = {'host': conf.agent.host, 'devices': conf.agent.sim_devices or ''}
    if conf.agent.sim_health_file:
        sim['health_file'] = conf.agent.sim_health_file
    if conf.agent.sim_islands:
        sim['islands'] = conf.agent.sim_islands
    if conf.agent.state_dir:
        sim['state_file'] = os.path.join(state_dir(conf), 'sim-partitions.json')
    options = {'sim': sim}
    for name in conf.agent.enabled_drivers or []:
        if name != 'sim':
            options[name] = _group(conf, name)
    return options


def preparer_options(conf) -> dict:
    """The slice preparer's options: [isolation] plugins, state_dir, a group per plugin."""
    return {'plugins': dict(conf.isolation.plugins or {}),
            'state_dir': os.path.join(state_dir(conf), 'slices') if conf.agent.state_dir else '',
            'mps': _group(conf, 'mps'), 'hami': _group(conf, 'hami')}


def _group(conf, name: str) -> dict:
    try:
        group = conf[name]
    except Exception:  # NoSuchOptError: the driver has no options group
        return {}
    out = {}
    for key in group:
        value = group[key]
        if value is None:
            continue
        out[key] = ','.join(map(str, value)) if isinstance(value, list) else str(value)
    return out


class AgentManager:
    """RPC endpoint of pooling-agent on ``conf.agent.host``."""

    target = messaging.Target(version='1.2')

    def __init__(self, conf, conductor, drivers=None, preparer=None, remote=None):
        self.conf = conf
        self.host = conf.agent.host
        self.conductor = conductor
        if drivers is None:
            drivers = driver_loader.load_accelerator_drivers(conf.agent.enabled_drivers,
                                                             driver_options(conf))
        self.drivers = drivers
        self.preparer = preparer or slices_mod.SlicePreparer(drivers, preparer_options(conf))
        self.remote = remote or remote_mod.RemoteSlices(conf, self._backend_failed)
        self.ctx = pooling_context.get_admin_context()
        self._stop = threading.Event()
        self._failed_told: set[str] = set()

    def discover(self) -> list[dict]:
        """Every device with its hard-partition shapes and the levels this host enforces."""
        report = driver_loader.device_report(self.drivers)
        for entry in report:
            entry['isolation'] = self.preparer.enforceable(entry['uuid'], entry['isolation'])
        return report

    def report_once(self) -> None:
        """Send the host's devices and health to the conductor (the heartbeat).

        The gateway's per-lease counters ride in the host dict (``remote_leases``): a conductor
        that predates them ignores the key, so no RPC version is needed.
        """
        # NOTE: probed at every report (a few small files): a container's limits can change
        # while it runs.
        cap = capacity.host_capacity(self.conf)
        host = {'name': self.host, 'pool': self.conf.agent.pool,
                'fabric': self.conf.agent.fabric, 'cpu_milli': cap.cpu_milli,
                'ram_mb': cap.ram_mb, 'links': driver_loader.link_report(self.drivers)}
        try:
            host['remote_leases'] = self.remote.counters()
        except Exception as exc:  # the heartbeat matters more than the counters
            LOG.warning('Cannot read the gateway counters: %s', exc)
        self.conductor.report(self.ctx, host, self.discover())

    def stop(self) -> None:
        self._stop.set()
        self.remote.close()

    # Restart -----------------------------------------------------------
    def resync(self) -> dict:
        """Adopt what was prepared before a restart; release what the pool no longer holds.

        Returns ``{'released': [...], 'kept': [...]}`` (vGPU uuids).
        """
        held = {}
        for primitive in self.conductor.held_on(self.ctx, self.host):
            request = prepare_obj.PrepareRequest.from_primitive(primitive)
            held[request.vgpu_uuid] = request
        self.remote.restore()
        released, kept = set(), set()
        for vgpu_uuid, index, record in self.preparer.records():
            if vgpu_uuid in held and any(s.request.index == index
                                         for s in held[vgpu_uuid].slices):
                kept.add(vgpu_uuid)
                continue
            LOG.info('The pool no longer holds slice %s/%s here: releasing it', vgpu_uuid,
                     index)
            try:
                self.preparer.release(vgpu_uuid, record['slice'])
                released.add(vgpu_uuid)
            except Exception as err:
                LOG.warning('Releasing stale slice %s/%s: %s', vgpu_uuid, index, err)
        for lease_id, vgpu_uuid in self.remote.lease_ids().items():
            request = held.get(vgpu_uuid)
            if request is None or request.lease is None or \
                    request.lease_id_on(self.host) != lease_id:
                LOG.info('The pool no longer serves lease %s of vGPU %s here: stopping it',
                         lease_id, vgpu_uuid)
                self.remote.stop(_StaleLease(lease_id, self.host))
                released.add(vgpu_uuid)
        return {'released': sorted(released), 'kept': sorted(kept)}

    def check_backends(self) -> None:
        self.remote.check()

    def _backend_failed(self, vgpu_uuid: str, reason: str) -> None:
        if not vgpu_uuid or vgpu_uuid in self._failed_told:
            return
        self._failed_told.add(vgpu_uuid)
        try:
            self.conductor.backend_failed(self.ctx, vgpu_uuid, self.host, reason)
        except Exception as err:
            self._failed_told.discard(vgpu_uuid)
            LOG.warning('Could not tell the conductor that the backend of %s failed: %s',
                        vgpu_uuid, err)

    # RPC methods (1.2) ---------------------------------------------------
    # NOTE: one call carries every vGPU the conductor has for this host (its
    # batches); each vGPU answers on its own, so one failure does not fail
    # the others.
    def prepare_vgpus(self, context, requests: list) -> dict:
        return self._each(requests, 'Preparing', self._prepare)

    def release_vgpus(self, context, requests: list) -> dict:
        return self._each(requests, 'Releasing', self._release)

    def update_leases(self, context, requests: list) -> dict:
        return self._each(requests, 'Updating the lease of', self.remote.update)

    def _prepare(self, request) -> dict:
        slices = {}
        for item in request.slices:
            slices[item.request.index] = self.preparer.prepare_slice(item.request)
        answer = {'slices': slices, 'remote': None}
        if request.remote:
            answer['remote'] = self.remote.serve(request, [slices[i] for i in sorted(slices)])
        return answer

    def _release(self, request) -> dict:
        self._failed_told.discard(request.vgpu_uuid)
        if request.lease is not None:
            self.remote.stop(request)
        for item in request.slices:
            self.preparer.release_slice(item.request, item.attachment)
        return {}

    def _each(self, requests, doing: str, act) -> dict:
        answers = {}
        for primitive in requests:
            uuid = primitive.get('vgpu_uuid', '?')
            try:
                request = prepare_obj.PrepareRequest.from_primitive(primitive)
                LOG.info('%s vGPU %s on %s (%d slice(s))', doing, uuid, self.host,
                         len(request.slices))
                answers[uuid] = {**(act(request) or {}), 'error': None}
            except Exception as err:
                LOG.warning('%s vGPU %s failed: %s', doing, uuid, err)
                answers[uuid] = {'error': str(err) or type(err).__name__}
        return answers


class _StaleLease:
    """What ``RemoteSlices.stop`` needs of a lease the pool forgot."""

    def __init__(self, lease_id, host):
        self.lease = True
        self._lease_id = lease_id

    def lease_id_on(self, host):
        return self._lease_id
