"""The long-running services (conductor, agent) as oslo.service services.

Each owns an RPC server (threading executor) and a futurist PeriodicWorker
whose passes run on a thread pool of their own, so a slow pass (a reconcile
waiting on the database) never delays another (the conductor's heartbeat and
host checks keep their pace). The all-in-one runs several of them in one
process with the in-process transport; pooling-conductor and pooling-agent
run one each under oslo.service.
"""

import threading

import futurist
from futurist import periodics
from oslo_log import log as logging
from oslo_service import service

from pooling import rpc
from pooling.agent import discovered as agent_discovered
from pooling.agent import manager as agent_manager
from pooling.agent import platforms as agent_platforms
from pooling.conductor import manager as conductor_manager
from pooling.conductor import rpcapi as conductor_rpcapi

LOG = logging.getLogger(__name__)


class _RPCService(service.ServiceBase):
    """An RPC server plus a periodic loop, started and stopped together."""

    def __init__(self, conf, transport, topic, server, endpoint, interval):
        self.conf = conf
        self.transport = transport
        self._topic, self._server_name, self.endpoint = topic, server, endpoint
        self._interval = interval
        self._server = None
        self._worker = None
        self._stopped = threading.Event()

    def periodic(self):
        raise NotImplementedError

    def periodic_tasks(self) -> list:
        """``[(callable, spacing seconds)]``; by default ``periodic`` every ``interval``."""
        return [(self.periodic, self._interval)]

    def _guarded(self, fn):
        def run():
            try:
                fn()
            except Exception:
                LOG.exception('Periodic task %s of %s failed', fn.__name__, self._topic)
        run.__name__ = fn.__name__
        return run

    def start(self):
        if self.transport is None:
            self.transport = rpc.get_transport(self.conf)
        self._server = rpc.get_server(self.transport, self._topic, self._server_name,
                                      [self.endpoint, *getattr(self, 'extra_endpoints', ())])
        self._server.start()
        tasks = self.periodic_tasks()
        callables = [(periodics.periodic(spacing, run_immediately=True)(self._guarded(fn)),
                      None, None) for fn, spacing in tasks]
        self._worker = periodics.PeriodicWorker(
            callables, executor_factory=lambda: futurist.ThreadPoolExecutor(
                max_workers=len(tasks)))
        threading.Thread(target=self._worker.start, name=self._topic, daemon=True).start()

    def stop(self, graceful=False):
        self._stopped.set()
        if self._worker is not None:
            self._worker.stop()
            self._worker = None
        if hasattr(self.endpoint, 'stop'):
            self.endpoint.stop()
        if self._server is not None:
            self._server.stop()
            self._server.wait()
            self._server = None

    def wait(self):
        self._stopped.wait()

    def reset(self):
        pass


class ConductorService(_RPCService):
    def __init__(self, conf, transport=None, host='conductor'):
        manager = conductor_manager.ConductorManager(conf, transport)
        super().__init__(conf, transport, rpc.CONDUCTOR_TOPIC, host, manager,
                         conf.conductor.reconcile_interval)

    def start(self):
        super().start()
        if self.conf.cyborg.enabled:
            threading.Thread(target=self._cyborg_loop, name='cyborg-sync', daemon=True).start()

    def stop(self, graceful=False):
        super().stop(graceful)
        if self.conf.cyborg.enabled:
            from pooling.cyborg import sync

            sync.stop(self.conf)

    def _cyborg_loop(self):
        """Keep Cyborg in sync (profiles published, ARQs turned into vGPUs)."""
        from pooling.cyborg import sync

        while not self._stopped.is_set():
            try:
                sync.run_once(self.endpoint.ctx, self.conf, conductor=self.endpoint)
            except Exception:
                LOG.exception('Cyborg sync failed')
            self._stopped.wait(self.conf.cyborg.sync_interval)

    def periodic(self):
        self.endpoint.periodic()

    def periodic_tasks(self) -> list:
        c = self.conf.conductor
        # NOTE: a silent host is marked down within host_down_after plus a
        # third of it, whatever the reconcile pass is doing (issue 13: 75 s).
        return [(self.endpoint.heartbeat, c.heartbeat_interval),
                (self.endpoint.check_hosts, max(1, min(c.reconcile_interval,
                                                       c.host_down_after // 3))),
                (self.endpoint.periodic, c.reconcile_interval)]


class AgentService(_RPCService):
    def __init__(self, conf, transport=None):
        self._conf = conf
        super().__init__(conf, transport, rpc.AGENT_TOPIC, conf.agent.host, None,
                         conf.agent.report_interval)

    def start(self):
        if self.transport is None:
            self.transport = rpc.get_transport(self.conf)
        conductor = conductor_rpcapi.ConductorAPI(self.conf, self.transport)
        self.endpoint = agent_manager.AgentManager(self.conf, conductor)
        self.extra_endpoints = [agent_platforms.PlatformEndpoint(self.conf)]
        self._stand_ins = agent_discovered.StandInAgents(self.transport, rpc.AGENT_TOPIC,
                                                          rpc.get_server)
        super().start()

    def periodic(self):
        self.endpoint.report_once()
        # Hosts a platform driver discovers (a vCenter's ESXi hosts) report with our heartbeat,
        # and we answer the conductor's slice calls for them.
        try:
            found = agent_discovered.report_discovered(
                self.endpoint.conductor, self.endpoint.ctx, self.extra_endpoints[0].drivers,
                self.conf.agent.pool, self.conf.agent.fabric)
            if found:
                self._stand_ins.ensure(found)
        except Exception:
            LOG.exception('Reporting the hosts of the platform drivers failed')

    def stop(self, graceful=False):
        super().stop(graceful)
        self._stand_ins.stop()

    def periodic_tasks(self) -> list:
        return [(self.periodic, self._interval), (self._resync_once, 2),
                (self.endpoint.check_backends, self.conf.agent.backend_check_interval)]

    def _resync_once(self):
        """After a start: adopt what was prepared, release what the pool dropped (retried
        every 2 s until the conductor answers, then never again)."""
        if getattr(self, '_resynced', False):
            return
        out = self.endpoint.resync()
        self._resynced = True
        if out['released'] or out['kept']:
            LOG.info('Agent resync: kept %d vGPU(s), released %d', len(out['kept']),
                     len(out['released']))
