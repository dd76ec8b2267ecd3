"""Device-plugin fallback (``v1beta1``) for clusters without DRA.

The device-plugin API counts whole devices only, so a pool profile is advertised as replicas:
resource ``pooling.openstack.org/vgpu``, and per card of this node as many device ids as the card
holds of the profile (``<profile>-<card>-<i>``).  Capacity that other platforms hold on the card
marks the replicas it covers ``Unhealthy`` (ids stay stable, the kubelet stops offering them);
``ListAndWatch`` sends a new list whenever that changes.  ``Allocate`` makes (or finds again) the
pool vGPU of each replica asked for, waits until it is ACTIVE, writes its CDI spec and answers
``cdi_devices`` -- the container runtime applies the spec.

Limits, said plainly: the device-plugin API tells a plugin nothing when a pod ends, so a
replica's vGPU is kept (and reused by the next pod that gets the replica) until the replica is
advertised no more; DRA has no such limit and is the route to prefer.

The kubelet deletes plugin sockets when it restarts: the plugin watches ``kubelet.sock`` and, when
it comes back, serves its socket again and registers again.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent import futures
import logging
import os
import threading
import time

import grpc

from pooling_drivers.platforms import base
from pooling_drivers.platforms import cdi
from pooling_drivers.platforms.kubernetes import grpcstubs
from pooling_drivers.platforms.kubernetes import model

LOG = logging.getLogger(__name__)

RESOURCE = f'{model.DOMAIN}/vgpu'
VERSION = 'v1beta1'
SOCKET = 'pooling-vgpu.sock'
PLATFORM = 'kubernetes'


def replicas(node: str, profile: dict, devices: list, vgpus: list) -> list[tuple[str, bool]]:
    """``[(device id, healthy)]`` for this node: profile-sized replicas of each fitting card.

    A card's replicas beyond what is free of other consumers' holds (the card's ``used`` minus
    this plugin's own vGPUs) are unhealthy; replicas this plugin backs count as free for
    themselves.
    """
    shape = model.Shape.from_profile(profile)
    if shape is None:
        return []
    own = model.held_by(vgpus, lambda v: (v.get('consumer') or {}).get('platform') == PLATFORM
                        and str(v.get('name', '')).startswith('dp/'))
    out = []
    for card in sorted(devices, key=lambda d: d['uuid']):
        if card['host'] != node or not shape.fits(card):
            continue
        total = shape.per_card(card)
        free_c, free_m = model.free_for(card, own.get(card['uuid'], (0, 0)))
        free = max(0, min(free_c // shape.compute_milli, free_m // shape.memory_mb))
        if card.get('health') != 'healthy':
            free = 0
        stem = model.dns_label(f'{shape.name}-{card["uuid"][:8]}', 56)
        out += [(f'{stem}-{i}', i < free) for i in range(total)]
    return out


class DevicePlugin:
    """One node's device plugin for one profile.

    :param pool: returns a ``poolingclient`` Client in the project the vGPUs belong to.
    """

    def __init__(self, node: str, profile: str, pool: Callable[[], object],
                 cdi_driver: cdi.CdiPlatform, plugin_dir: str = '/var/lib/kubelet/device-plugins',
                 interval: float = 10.0, timeout: float = 120.0) -> None:
        self.node = node
        self.profile = profile
        self.pool = pool
        self.cdi = cdi_driver
        self.plugin_dir = plugin_dir
        self.interval = interval
        self.timeout = timeout
        self.socket = os.path.join(plugin_dir, SOCKET)
        self.kubelet_socket = os.path.join(plugin_dir, 'kubelet.sock')
        self.pb2, self.pb2_grpc = grpcstubs.load('deviceplugin')
        self._server: grpc.Server | None = None
        self._stop = threading.Event()
        self._changed = threading.Condition()
        self._devices: list[tuple[str, bool]] = []
        self._kubelet_id = None

    # The pool ---------------------------------------------------------------
    def refresh(self) -> bool:
        """Re-read the pool; True when the advertised list changed."""
        client = self.pool()
        devices = replicas(self.node, client.get_profile(self.profile),
                           client.list_devices(host=self.node),
                           client.list_vgpus(all_projects=True, consumer_platform=PLATFORM))
        with self._changed:
            if devices == self._devices:
                return False
            self._devices = devices
            self._changed.notify_all()
        return True

    def _vgpu_for(self, device_id: str) -> dict:
        client = self.pool()
        name = f'dp/{self.node}/{device_id}'
        consumer_id = model.dns_label(f'dp-{self.node}-{device_id}', 255)
        found = [v for v in client.list_vgpus(consumer_platform=PLATFORM,
                                              consumer_id=consumer_id)
                 if v['name'] == name and v['state'] not in ('DELETED', 'ERROR', 'RELEASING')]
        vgpu = found[0] if found else client.create_vgpu(
            name=name, profile=self.profile, locality='local',
            consumer={'platform': PLATFORM, 'host': self.node, 'id': consumer_id})
        deadline = time.monotonic() + self.timeout
        while vgpu['state'] != 'ACTIVE':
            if vgpu['state'] in ('ERROR', 'DELETED', 'RELEASING') or time.monotonic() > deadline:
                raise RuntimeError(f'vGPU {vgpu["uuid"]} for {device_id} is {vgpu["state"]}: '
                                   f'{vgpu.get("state_reason") or "timed out"}')
            time.sleep(0.25)
            vgpu = client.get_vgpu(vgpu['uuid'])
        return vgpu

    # gRPC -----------------------------------------------------------------------
    def _servicer(self):
        pb2, outer = self.pb2, self

        class Servicer(self.pb2_grpc.DevicePluginServicer):
            def GetDevicePluginOptions(self, request, context):  # noqa: N802
                return pb2.DevicePluginOptions(pre_start_required=False,
                                               get_preferred_allocation_available=False)

            def ListAndWatch(self, request, context):  # noqa: N802
                sent = None
                while not outer._stop.is_set() and context.is_active():
                    with outer._changed:
                        if sent == outer._devices:
                            outer._changed.wait(timeout=1.0)
                            continue
                        sent = list(outer._devices)
                    yield pb2.ListAndWatchResponse(devices=[
                        pb2.Device(ID=i, health='Healthy' if ok else 'Unhealthy')
                        for i, ok in sent])

            def Allocate(self, request, context):  # noqa: N802
                response = pb2.AllocateResponse()
                try:
                    for creq in request.container_requests:
                        cres = response.container_responses.add()
                        for device_id in creq.devices_ids:
                            vgpu = outer._vgpu_for(device_id)
                            att = outer.cdi.attach(base.PlatformRequest.from_vgpu(vgpu))
                            cres.cdi_devices.add(name=att.handle)
                except Exception as exc:
                    # NOTE: the API has no per-device error: failing the call fails the pod.
                    LOG.warning('Allocate failed: %s', exc)
                    context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))
                return response

            def GetPreferredAllocation(self, request, context):  # noqa: N802
                return pb2.PreferredAllocationResponse()

            def PreStartContainer(self, request, context):  # noqa: N802
                return pb2.PreStartContainerResponse()

        return Servicer()

    def _serve(self) -> None:
        if self._server is not None:
            self._server.stop(0)
        os.makedirs(self.plugin_dir, exist_ok=True)
        if os.path.exists(self.socket):
            os.unlink(self.socket)
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        self.pb2_grpc.add_DevicePluginServicer_to_server(self._servicer(), server)
        server.add_insecure_port(f'unix://{self.socket}')
        server.start()
        self._server = server

    def register(self) -> None:
        """Serve our socket and register with the kubelet on ``kubelet.sock``."""
        self._serve()
        with grpc.insecure_channel(f'unix://{self.kubelet_socket}') as channel:
            self.pb2_grpc.RegistrationStub(channel).Register(self.pb2.RegisterRequest(
                version=VERSION, endpoint=SOCKET, resource_name=RESOURCE,
                options=self.pb2.DevicePluginOptions()), timeout=10)
        self._kubelet_id = _ident(self.kubelet_socket)
        LOG.info('registered %s with the kubelet (%s)', RESOURCE, self.socket)

    def watch_once(self) -> bool:
        """Register again when the kubelet came back (a new ``kubelet.sock``)."""
        ident = _ident(self.kubelet_socket)
        if ident is None or ident == self._kubelet_id:
            return False
        self.register()
        return True

    def start(self) -> DevicePlugin:
        self.refresh()
        self.register()
        threading.Thread(target=self._loop, name='device-plugin', daemon=True).start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.watch_once()
                self.refresh()
            except Exception:
                LOG.exception('device plugin pass failed; retrying')

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.stop(1).wait()


def _ident(path: str):
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_ctime_ns)
