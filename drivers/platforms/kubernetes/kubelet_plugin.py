"""The DRA kubelet plugin: registration with the kubelet and the DRAPlugin gRPC service.

Two gRPC servers on unix sockets, as the kubelet expects:

* ``<registry_dir>/<driver>-reg.sock`` serves ``pluginregistration.Registration``: the kubelet's
  plugin watcher finds the socket, asks ``GetInfo`` (type ``DRAPlugin``, our endpoint, the
  service versions we serve) and tells us the outcome with ``NotifyRegistrationStatus``;
* ``<plugin_dir>/dra.sock`` serves ``k8s.io.kubelet.pkg.apis.dra.v1.DRAPlugin`` and its
  message-identical ``v1beta1`` twin (kubelets of 1.32-1.33 speak only v1beta1).

Each claim is answered on its own: a claim that fails carries its ``error`` in the response and
the call succeeds, because a gRPC error would make the kubelet drop the answers of the others.
Calls for the same claim are serialised (the kubelet retries while a slow prepare is running).

Re-registration: the kubelet forgets plugins when it restarts and re-reads the registry
directory; if our socket was removed meanwhile (a kubelet that cleans the directory), the
watchdog in :meth:`KubeletPlugin.ensure_registered` re-creates it.
"""

from __future__ import annotations

from concurrent import futures
import logging
import os
import threading

import grpc

from pooling_drivers.platforms.kubernetes import claims as claims_mod
from pooling_drivers.platforms.kubernetes import grpcstubs
from pooling_drivers.platforms.kubernetes import model

LOG = logging.getLogger(__name__)

PLUGIN_TYPE = 'DRAPlugin'
SERVICES = ('v1.DRAPlugin', 'v1beta1.DRAPlugin')


class _ClaimLocks:
    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def get(self, uid: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(uid, threading.Lock())


def _dra_servicer(version: str, preparer: claims_mod.ClaimPreparer, locks: _ClaimLocks):
    pb2, pb2_grpc = grpcstubs.load(f'dra_{version}')

    def refs(request):
        return [claims_mod.ClaimRef(c.namespace, c.uid, c.name) for c in request.claims]

    def locked(act):
        def run(ref):
            with locks.get(ref.uid):
                return act(ref)
        return run

    class Servicer(pb2_grpc.DRAPluginServicer):
        def NodePrepareResources(self, request, context):  # noqa: N802 - gRPC's name
            response = pb2.NodePrepareResourcesResponse()
            for uid, outcome in claims_mod.answer_each(refs(request),
                                                       locked(preparer.prepare)).items():
                entry = response.claims[uid]
                if isinstance(outcome, Exception):
                    entry.error = str(outcome)
                    continue
                for dev in outcome:
                    entry.devices.add(request_names=list(dev.request_names),
                                      pool_name=dev.pool_name, device_name=dev.device_name,
                                      cdi_device_ids=list(dev.cdi_device_ids))
            return response

        def NodeUnprepareResources(self, request, context):  # noqa: N802 - gRPC's name
            response = pb2.NodeUnprepareResourcesResponse()
            for uid, outcome in claims_mod.answer_each(refs(request),
                                                       locked(preparer.unprepare)).items():
                entry = response.claims[uid]
                if isinstance(outcome, Exception):
                    entry.error = str(outcome)
            return response

    return Servicer(), pb2_grpc.add_DRAPluginServicer_to_server


class _Registration:
    def __init__(self, plugin: KubeletPlugin) -> None:
        pb2, pb2_grpc = grpcstubs.load('registration')
        outer = plugin

        class Servicer(pb2_grpc.RegistrationServicer):
            def GetInfo(self, request, context):  # noqa: N802 - gRPC's name
                return pb2.PluginInfo(type=PLUGIN_TYPE, name=outer.driver,
                                      endpoint=outer.dra_socket,
                                      supported_versions=list(SERVICES))

            def NotifyRegistrationStatus(self, request, context):  # noqa: N802
                outer.registered = request.plugin_registered
                outer.registration_error = request.error
                if request.plugin_registered:
                    LOG.info('kubelet registered DRA driver %s', outer.driver)
                else:
                    LOG.error('kubelet refused DRA driver %s: %s', outer.driver, request.error)
                return pb2.RegistrationStatusResponse()

        self.servicer = Servicer()
        self.add = pb2_grpc.add_RegistrationServicer_to_server


class KubeletPlugin:
    """Serves the kubelet on one node.

    :param preparer: turns claims into vGPUs.
    :param plugin_dir: where ``dra.sock`` lives (``/var/lib/kubelet/plugins/<driver>``).
    :param registry_dir: the kubelet's plugin watcher directory.
    """

    def __init__(self, preparer: claims_mod.ClaimPreparer,
                 plugin_dir: str = f'/var/lib/kubelet/plugins/{model.DRIVER}',
                 registry_dir: str = '/var/lib/kubelet/plugins_registry',
                 driver: str = model.DRIVER, workers: int = 8) -> None:
        self.preparer = preparer
        self.driver = driver
        self.dra_socket = os.path.join(plugin_dir, 'dra.sock')
        self.reg_socket = os.path.join(registry_dir, f'{driver}-reg.sock')
        self.workers = workers
        self.registered: bool | None = None
        self.registration_error = ''
        self._dra: grpc.Server | None = None
        self._reg: grpc.Server | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def start(self) -> KubeletPlugin:
        locks = _ClaimLocks()
        self._dra = self._serve(self.dra_socket, [
            _dra_servicer(v, self.preparer, locks) for v in ('v1', 'v1beta1')])
        self._start_registration()
        return self

    def _serve(self, path: str, servicers) -> grpc.Server:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if os.path.exists(path):
            os.unlink(path)  # a socket left by a previous run
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=self.workers))
        for servicer, add in servicers:
            add(servicer, server)
        server.add_insecure_port(f'unix://{path}')
        server.start()
        return server

    def _start_registration(self) -> None:
        with self._lock:
            if self._reg is not None:
                self._reg.stop(0)
            reg = _Registration(self)
            self.registered = None
            self._reg = self._serve(self.reg_socket, [(reg.servicer, reg.add)])
        LOG.info('DRA driver %s: registration socket %s, service %s', self.driver,
                 self.reg_socket, self.dra_socket)

    def ensure_registered(self) -> bool:
        """Re-create the registration socket when it vanished; True when it did so."""
        if os.path.exists(self.reg_socket):
            return False
        LOG.warning('registration socket %s is gone: serving it again', self.reg_socket)
        self._start_registration()
        return True

    def run_watchdog(self, interval: float = 5.0) -> None:
        while not self._stop.wait(interval):
            try:
                self.ensure_registered()
            except Exception:
                LOG.exception('registration watchdog failed')

    def stop(self) -> None:
        self._stop.set()
        for server in (self._reg, self._dra):
            if server is not None:
                server.stop(1).wait()
        for path in (self.reg_socket, self.dra_socket):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
