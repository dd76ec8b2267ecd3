"""Enter the hosts a platform discovers into the pool (vSphere: its ESXi hosts' GPUs).

ESXi hosts run no pooling-agent. The agent that runs the ``vmware`` platform driver (the one
named after the vCenter) reports, with its own heartbeat, every host the driver's
:meth:`~pooling_drivers.platforms.base.PlatformDriver.discover` returns, as if each had an agent:
one pool host per ESXi host, its cards as devices, their vGPU profiles as partition shapes (the
scheduler snaps ``hard`` requests to them, so a vSphere vGPU books exactly its profile). The
reports go through the conductor like any agent's, so the hosts stay up while the vCenter is
readable, are marked down when it is not, and their cards count in the same books as every
other card of the pool: vSphere capacity and OpenStack capacity are one pool. A discovered
host's CPU and RAM are what its driver says (the ``vmware`` driver: the ESXi host's hardware
summary), or 0 (not tracked) where the driver does not know them: the reporting agent's own
measure would describe its machine, not the discovered host.

A discovered host has no agent to prepare its slices, so the reporting agent also answers the
conductor's slice calls for it (:class:`StandInAgents`): one RPC server per discovered host on
the agent topic. Its "preparation" is bookkeeping only (vSphere enforces the vGPU profile when
the ``vmware`` platform driver adds it to the VM), and it refuses slices for consumers of other
platforms: an ESXi card has no remoting server, so only VMs on that ESXi host can use it.

The report marks each such host with its platform (``hosts.platform``), and the scheduler keeps
every consumer that does not run on the host off its cards; a VM is located on its ESXi host
before its claim (``pooling.locate``), so the refusal here is only a second line of defence.
"""

from __future__ import annotations

import threading

from oslo_log import log as logging
import oslo_messaging as messaging

from pooling.objects import prepare as prepare_obj
from pooling_drivers.accelerators.types import as_dict
from pooling_drivers.platforms import base

LOG = logging.getLogger(__name__)


def device_reports(driver, host: base.DiscoveredHost) -> list[dict]:
    """The devices of a discovered host as the conductor's ``report`` takes them."""
    return [{**as_dict(device), 'driver': driver.name,
             'partition_profiles': as_dict(list(host.profiles.get(device.uuid, ())))}
            for device in host.devices]


def report_discovered(conductor, context, drivers, pool: str,
                      fabric: str | None = None) -> dict[str, str]:
    """Report every host the platform drivers discover; returns ``{host: driver name}``.

    A driver that does not discover is skipped; one whose platform is unreachable is logged
    and skipped (its hosts then miss a heartbeat, as a dead agent's would).

    :param conductor: the conductor RPC API (``report(context, host, devices)``).
    :param pool: the pool the discovered hosts belong to.
    """
    names = {}
    for driver in drivers:
        try:
            hosts = driver.discover()
        except base.PlatformNotSupportedError:
            continue
        except base.PlatformError as exc:
            LOG.warning('Platform %s could not discover its hosts: %s', driver.name, exc)
            continue
        for host in hosts:
            # NOTE: ``platform`` marks the host as discovered (hosts.platform): the scheduler
            # keeps consumers that do not run on it off its cards. A conductor that predates
            # the key ignores it.
            conductor.report(context, {'name': host.name, 'pool': pool,
                                       'fabric': host.fabric or fabric,
                                       'cpu_milli': host.cpu_milli, 'ram_mb': host.ram_mb,
                                       'platform': driver.name},
                             device_reports(driver, host))
            names[host.name] = driver.name
    return names


class PlatformHostEndpoint:
    """The conductor's prepare/release calls for one discovered host (it has no agent).

    Speaks the agent's RPC (``pooling.agent.rpcapi``, 1.2): one typed
    :class:`pooling.objects.prepare.PrepareRequest` per vGPU, answered per vGPU.
    """

    target = messaging.Target(version='1.2')

    def __init__(self, host: str, platform: str) -> None:
        self.host, self.platform = host, platform

    def prepare_vgpus(self, context, requests: list) -> dict:
        answers = {}
        for primitive in requests:
            uuid = primitive.get('vgpu_uuid', '?')
            try:
                request = prepare_obj.PrepareRequest.from_primitive(primitive)
            except ValueError as err:
                answers[uuid] = {'error': str(err)}
                continue
            consumer = request.consumer_platform
            if consumer != self.platform:
                answers[uuid] = {'error': f'{self.host} is a {self.platform} host: its cards '
                                          f'serve {self.platform} consumers on it only, not '
                                          f'{consumer or "a vGPU without consumer"}'}
                continue
            # NOTE: a vSphere consumer names its vCenter as host, never the ESXi host of the
            # card; a vGPU placed before its VM was located looks remote. Either way the platform
            # driver attaches the card to the VM (no gateway here: no remote endpoint).
            answers[uuid] = {'error': None, 'remote': None, 'slices': {
                item.request.index: {
                    'device_uuid': item.request.device_uuid,
                    'isolation': request.isolation or 'hard',
                    'plugin': f'platform:{self.platform}',
                    'visible_uuid': item.request.device_uuid,
                    'env': {}, 'devices': [], 'mounts': [], 'partition': None}
                for item in request.slices}}
        return answers

    def release_vgpus(self, context, requests: list) -> dict:
        return {p.get('vgpu_uuid', '?'): {'error': None} for p in requests}

    def update_leases(self, context, requests: list) -> dict:
        return {p.get('vgpu_uuid', '?'): {'error': f'{self.host} serves no remote vGPUs'}
                for p in requests}


class StandInAgents:
    """One RPC server per discovered host, answering as that host's agent would."""

    def __init__(self, transport, topic: str, get_server) -> None:
        self.transport, self.topic, self._get_server = transport, topic, get_server
        self._servers: dict[str, object] = {}
        self._lock = threading.Lock()

    def ensure(self, hosts: dict[str, str]) -> None:
        """Serve every host of ``{host: platform driver}`` not served yet."""
        with self._lock:
            for name, platform in hosts.items():
                if name not in self._servers:
                    server = self._get_server(self.transport, self.topic, name,
                                              [PlatformHostEndpoint(name, platform)])
                    server.start()
                    self._servers[name] = server
                    LOG.info('Answering slice calls for %s host %s', platform, name)

    def stop(self) -> None:
        with self._lock:
            servers, self._servers = list(self._servers.values()), {}
        for server in servers:
            server.stop()
            server.wait()
