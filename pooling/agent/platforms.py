"""Hand ACTIVE vGPUs to the platforms of their consumers' hosts (``pooling.platforms`` drivers).

A platform attachment (a CDI spec, say) lives on the *consumer's* host, which for a remote vGPU
is not the host that prepared its slices.  So the conductor, once it knows the whole vGPU (every
slice's attachment and, for a remote vGPU, the lease), tells the agent of the consumer's host:

* :meth:`PlatformNotifier.attached` -- right after vGPUs go ACTIVE (a cast: the vGPU is usable
  by other platforms already; the periodic sync repairs a lost message);
* :meth:`PlatformNotifier.detach` -- before capacity is given back (a call: a container must not
  start on a vGPU whose capacity is being handed to someone else; a vGPU whose consumer host
  fails to detach stays RELEASING and the reconciler retries, unless the host is down);
* :meth:`PlatformNotifier.sync` -- every ``[platforms] sync_interval``, each live host gets the
  list of its ACTIVE vGPUs and its drivers reconcile (writes what is missing, removes strays),
  which also repairs what an agent restart or a lost cast left behind.

On the agent, :class:`PlatformEndpoint` is a second endpoint of the agent's RPC server (its own
namespace, so it versions apart from slice preparation) that runs the drivers named in
``[platforms] enabled``.  Agents with none enabled answer and do nothing.

Versions of the ``platforms`` namespace: 1.0 attach, detach, sync; 1.1 adds ``platforms_locate``
(where a consumer runs now, asked by the API before a claim: :mod:`pooling.locate`). The
conductor's calls stay pinned to 1.0, so an agent of either version serves them.
"""

from __future__ import annotations

import collections
from concurrent import futures
import importlib
import time
from typing import Any

from oslo_log import log as logging
import oslo_messaging as messaging
from stevedore import driver as stevedore_driver

from pooling import locate as locate_mod
from pooling import rpc
from pooling.conf import platforms as platforms_conf

LOG = logging.getLogger(__name__)

NAMESPACE = 'pooling.platforms'
#: Consumer platforms no agent serves: Nova's vGPUs reach their servers through Cyborg, so
#: releasing them never waits for their compute host's agent.
NOT_ON_AGENTS = ('nova',)
RPC_NAMESPACE = locate_mod.RPC_NAMESPACE
#: What the endpoint serves; the conductor's calls need only ``CALLS_VERSION``.
RPC_VERSION = locate_mod.LOCATE_VERSION
CALLS_VERSION = '1.0'
#: Platforms whose options live in their own group, read by ``pooling.conf.<name>``.
OWN_GROUPS = ('vmware', 'libvirt', 'baremetal')


def driver_options(conf, name: str) -> dict[str, Any]:
    """Options of one platform driver from ``[platforms]`` (drivers never read config)."""
    if name in OWN_GROUPS:
        return importlib.import_module(f'pooling.conf.{name}').driver_options(conf)
    p = conf.platforms
    if name == 'kubernetes':
        return {'spec_dir': p.cdi_spec_dir, 'lease_dir': p.cdi_lease_dir,
                'lease_path': p.cdi_lease_path, 'dev_root': p.cdi_dev_root,
                'mounts': p.cdi_mounts}
    if name == 'cdi':
        return {'spec_dir': p.cdi_spec_dir, 'platforms': p.cdi_platforms,
                'lease_dir': p.cdi_lease_dir, 'lease_path': p.cdi_lease_path,
                'dev_root': p.cdi_dev_root, 'mounts': p.cdi_mounts}
    return {}


def load_drivers(conf) -> list:
    """Load ``[platforms] enabled``; an unknown name is an error at start, not at first use."""
    platforms_conf.register_opts(conf)
    drivers = []
    for name in conf.platforms.enabled:
        try:
            drivers.append(stevedore_driver.DriverManager(
                NAMESPACE, name, invoke_on_load=True,
                invoke_args=(driver_options(conf, name),)).driver)
        except Exception as exc:
            raise ValueError(f'[platforms] enabled: cannot load {name!r}: {exc}') from exc
    return drivers


class PlatformEndpoint:
    """Agent side: runs the host's platform drivers for the vGPUs consumed here."""

    target = messaging.Target(namespace=RPC_NAMESPACE, version=RPC_VERSION)

    def __init__(self, conf, drivers: list | None = None) -> None:
        self.host = conf.agent.host
        self.drivers = load_drivers(conf) if drivers is None else drivers

    def _requests(self, vgpus: list) -> list:
        from pooling_drivers.platforms import base

        requests = []
        for vgpu in vgpus:
            try:
                requests.append(base.PlatformRequest.from_vgpu(vgpu))
            except base.PlatformError as exc:
                LOG.warning('vGPU %s cannot be handed to a platform: %s', vgpu.get('uuid'), exc)
        return [r for r in requests if r.consumer.host == self.host]

    def platforms_attach(self, context, vgpus: list) -> dict:
        """Attach each vGPU with every driver serving its consumer: ``{uuid: handles|error}``."""
        return self._each(vgpus, lambda d, r: d.attach(r).handle)

    def platforms_detach(self, context, vgpus: list) -> dict:
        """Detach each vGPU; ``{uuid: [] | {'error': ...}}``.  Detaching twice succeeds."""
        return self._each(vgpus, lambda d, r: d.detach(r))

    def platforms_sync(self, context, vgpus: list) -> list:
        """Reconcile every driver with the ACTIVE vGPUs consumed here; returns the drifts."""
        requests = self._requests(vgpus)
        drifts = []
        for driver in self.drivers:
            try:
                found = driver.reconcile(requests)
            except Exception as exc:
                LOG.warning('Platform %s could not reconcile: %s', driver.name, exc)
                continue
            for drift in found:
                LOG.warning('Platform %s: vGPU %s: %s (%s)', driver.name, drift.vgpu_uuid,
                            drift.problem, drift.action)
                drifts.append({'platform': driver.name, 'vgpu': drift.vgpu_uuid,
                               'problem': drift.problem, 'action': drift.action})
        return drifts

    def platforms_locate(self, context, consumer: dict) -> dict:
        """Where ``consumer`` runs now (1.1): a :class:`pooling.locate.Location` primitive.

        The first driver serving the consumer's platform that knows answers; with none, the
        consumer runs on its own host (``host`` None). Errors are answers, not exceptions, so
        the API tells a missing VM (400) from an unreachable vCenter (503).
        """
        from pooling_drivers.platforms import base

        Location = locate_mod.Location
        wanted = base.Consumer.from_dict(consumer)
        for driver in self.drivers:
            if wanted.platform not in driver.platforms:
                continue
            try:
                host = driver.locate(wanted)
            except base.ConsumerNotFoundError as exc:
                return Location(locate_mod.NOT_FOUND, reason=str(exc)).to_primitive()
            except base.InvalidRequestError as exc:
                return Location(locate_mod.INVALID, reason=str(exc)).to_primitive()
            except base.ConsumerStateError as exc:
                return Location(locate_mod.NOWHERE, reason=str(exc)).to_primitive()
            except Exception as exc:
                LOG.warning('Platform %s could not locate %s: %s', driver.name, wanted, exc)
                return Location(locate_mod.UNAVAILABLE,
                                reason=f'{driver.name}: {exc}').to_primitive()
            if host:
                LOG.debug('Platform %s: %s runs on %s', driver.name, wanted, host)
                return Location(host=host).to_primitive()
        return Location().to_primitive()

    def _each(self, vgpus, act) -> dict:
        answers: dict[str, Any] = {}
        for request in self._requests(vgpus):
            done = []
            for driver in self.drivers:
                if not driver.handles(request):
                    continue
                try:
                    done.append(act(driver, request))
                except Exception as exc:
                    LOG.warning('Platform %s failed for vGPU %s: %s', driver.name,
                                request.vgpu_uuid, exc)
                    answers[request.vgpu_uuid] = {'error': f'{driver.name}: {exc}'}
                    break
            else:
                answers[request.vgpu_uuid] = [h for h in done if h]
        return answers


def notifier(conf, agents) -> PlatformNotifier:
    """The conductor's notifier, on the transport of its agent client.

    Conductors built around a stand-in agent client (unit tests) have no transport: they get a
    notifier that does nothing.
    """
    return PlatformNotifier(conf, getattr(agents, '_transport', None))


class PlatformNotifier:
    """Conductor side: tells consumer hosts' agents about ACTIVE and released vGPUs."""

    def __init__(self, conf, transport) -> None:
        platforms_conf.register_opts(conf)
        self.conf = conf
        self.transport = transport
        self._synced_at = None

    def _client(self, host: str, timeout: int | None = None):
        client = rpc.get_client(self.transport, rpc.AGENT_TOPIC, server=host, timeout=timeout,
                                version=CALLS_VERSION)
        return client.prepare(namespace=RPC_NAMESPACE)

    @staticmethod
    def _by_consumer_host(vgpus: list, hosts: set) -> dict:
        by_host = collections.defaultdict(list)
        for vgpu in vgpus:
            consumer = vgpu.get('consumer') or {}
            host = consumer.get('host')
            if host in hosts and consumer.get('platform') not in NOT_ON_AGENTS:
                by_host[host].append(vgpu)
        return by_host

    def attached(self, context, vgpus: list) -> None:
        """Cast the newly ACTIVE vGPUs to their consumer hosts' agents."""
        from pooling.objects import host as host_obj

        if not vgpus or self.transport is None:
            return
        hosts = {h['name'] for h in host_obj.list_hosts(context)}
        for host, items in self._by_consumer_host(vgpus, hosts).items():
            try:
                self._client(host).cast(context, 'platforms_attach', vgpus=items)
            except Exception as exc:
                LOG.warning('Cannot tell %s about ACTIVE vGPUs: %s', host, exc)

    def detach(self, context, vgpus: list, down: set) -> set:
        """Detach on each live consumer host; returns the uuids that could not be detached."""
        from pooling.objects import host as host_obj

        if not vgpus or self.transport is None:
            return set()
        hosts = {h['name'] for h in host_obj.list_hosts(context)} - set(down)
        by_host = self._by_consumer_host(vgpus, hosts)
        if not by_host:
            return set()
        # NOTE: one thread per host, so a silent host costs the batch one timeout, not one each.
        with futures.ThreadPoolExecutor(max_workers=min(8, len(by_host))) as pool:
            outcomes = list(pool.map(lambda item: self._detach_on(context, *item),
                                     by_host.items()))
        return set().union(*outcomes)

    def _detach_on(self, context, host: str, items: list) -> set:
        try:
            answers = self._client(host, self.conf.platforms.detach_timeout).call(
                context, 'platforms_detach', vgpus=items)
        except (messaging.NoSuchMethod, messaging.UnsupportedVersion):
            return set()  # an agent older than platforms: it attached nothing
        except Exception as exc:
            LOG.warning('Consumer host %s did not detach %d vGPU(s): %s', host, len(items), exc)
            return {v['uuid'] for v in items}
        held = set()
        for uuid, answer in (answers or {}).items():
            if isinstance(answer, dict) and answer.get('error'):
                LOG.warning('Detaching vGPU %s on %s failed: %s', uuid, host, answer['error'])
                held.add(uuid)
        return held

    def sync(self, context) -> None:
        """Send each consumer host the ACTIVE vGPUs it consumes (the level-triggered repair)."""
        from pooling.objects import host as host_obj
        from pooling.objects import vgpu as vgpu_obj

        if self.transport is None:
            return
        now = time.monotonic()
        if self._synced_at is not None and (
                now - self._synced_at < self.conf.platforms.sync_interval):
            return
        self._synced_at = now
        live = {h['name'] for h in host_obj.list_hosts(context)} - host_obj.down_hosts(context)
        active = vgpu_obj.list_vgpus(context, state=vgpu_obj.ACTIVE)
        by_host = self._by_consumer_host(active, live)
        for host in live:
            try:
                self._client(host).cast(context, 'platforms_sync', vgpus=by_host.get(host, []))
            except Exception as exc:
                LOG.warning('Cannot sync platforms of %s: %s', host, exc)
