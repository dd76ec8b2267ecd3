"""The device-plugin fallback against a stand-in kubelet (real gRPC over unix sockets)."""

from concurrent import futures
import os
import tempfile

import grpc
import pytest

from pooling_drivers.platforms import cdi
from pooling_drivers.platforms.kubernetes import device_plugin
from pooling_drivers.platforms.kubernetes import grpcstubs
from tests.unit.platforms.k8s import pool_data as P
from tests.unit.platforms.k8s.test_kubelet_plugin import StubPool

pb2, pb2_grpc = grpcstubs.load('deviceplugin')


class Kubelet:
    """The kubelet's Registration service on kubelet.sock; dials back what registers."""

    def __init__(self, directory):
        self.directory = directory
        self.registered = []
        outer = self

        class Servicer(pb2_grpc.RegistrationServicer):
            def Register(self, request, context):  # noqa: N802
                outer.registered.append(request)
                return pb2.Empty()

        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        pb2_grpc.add_RegistrationServicer_to_server(Servicer(), self.server)
        self.server.add_insecure_port(f'unix://{os.path.join(directory, "kubelet.sock")}')
        self.server.start()

    def plugin(self):
        req = self.registered[-1]
        channel = grpc.insecure_channel(f'unix://{os.path.join(self.directory, req.endpoint)}')
        return channel, pb2_grpc.DevicePluginStub(channel)

    def stop(self):
        self.server.stop(0).wait()


class Pool(StubPool):
    def __init__(self, vgpus_elsewhere=()):
        super().__init__()
        self.elsewhere = list(vgpus_elsewhere)

    def get_profile(self, name):
        return next(p for p in P.PROFILES if p['name'] == name)

    def list_devices(self, host=None):
        devices = P.booked(P.DEVICES, self.elsewhere + list(self.vgpus.values()))
        return [d for d in devices if host is None or d['host'] == host]

    def list_vgpus(self, all_projects=False, consumer_platform=None, consumer_id=None):
        if all_projects and consumer_id is None:
            return [v for v in self.elsewhere + list(self.vgpus.values())
                    if consumer_platform in (None, v['consumer']['platform'])]
        return super().list_vgpus(consumer_platform, consumer_id)


@pytest.fixture
def rig():
    root = tempfile.mkdtemp(prefix='dp-')
    kubelet = Kubelet(root)
    pool = Pool([P.vgpu('nova-1', 'nova', P.GPU_A0, 50.0, 40960)])
    driver = cdi.CdiPlatform({'spec_dir': os.path.join(root, 'cdi'),
                              'platforms': ['kubernetes']})
    plugin = device_plugin.DevicePlugin('node-a', 'a100-quarter', lambda: pool, driver,
                                        plugin_dir=root, interval=3600, timeout=5)
    plugin.start()
    yield kubelet, pool, driver, plugin
    plugin.stop()
    kubelet.stop()


def test_register_list_and_allocate(rig):
    kubelet, pool, driver, plugin = rig
    (req,) = kubelet.registered
    assert (req.version, req.resource_name, req.endpoint) == (
        'v1beta1', 'pooling.openstack.org/vgpu', 'pooling-vgpu.sock')
    channel, stub = kubelet.plugin()
    with channel:
        stream = stub.ListAndWatch(pb2.Empty(), timeout=10)
        first = next(stream)
        health = [d.health for d in first.devices]
        # Two A100s of four quarters each; half of card 0 is Nova's: two replicas unhealthy.
        assert len(health) == 8 and health.count('Unhealthy') == 2
        dev_id = first.devices[0].ID
        resp = stub.Allocate(pb2.AllocateRequest(container_requests=[
            pb2.ContainerAllocateRequest(devices_ids=[dev_id])]), timeout=10)
        (cdi_dev,) = resp.container_responses[0].cdi_devices
        (uuid,) = pool.vgpus
        assert cdi_dev.name == cdi.device_name(uuid) and driver.attached() == [uuid]
        # The same replica again reuses its vGPU.
        stub.Allocate(pb2.AllocateRequest(container_requests=[
            pb2.ContainerAllocateRequest(devices_ids=[dev_id])]), timeout=10)
        assert list(pool.vgpus) == [uuid]
        # Nova takes the rest of card 0: the watch sends a new list.
        pool.elsewhere.append(P.vgpu('nova-2', 'nova', P.GPU_A0, 25.0, 20480))
        assert plugin.refresh() is True
        second = next(stream)
        assert [d.health for d in second.devices].count('Unhealthy') == 3
        stream.cancel()


def test_allocate_failure_is_a_grpc_error(rig):
    kubelet, pool, _driver, _plugin = rig
    pool.refuse.add('a100-quarter')
    channel, stub = kubelet.plugin()
    with channel, pytest.raises(grpc.RpcError) as err:
        stub.Allocate(pb2.AllocateRequest(container_requests=[
            pb2.ContainerAllocateRequest(devices_ids=['x'])]), timeout=10)
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_kubelet_restart_means_register_again(rig):
    kubelet, _pool, _driver, plugin = rig
    assert plugin.watch_once() is False
    kubelet.stop()
    for name in os.listdir(kubelet.directory):
        if name.endswith('.sock'):
            os.unlink(os.path.join(kubelet.directory, name))
    restarted = Kubelet(kubelet.directory)
    try:
        assert plugin.watch_once() is True
        assert len(restarted.registered) == 1
        channel, stub = restarted.plugin()
        with channel:
            assert stub.GetDevicePluginOptions(pb2.Empty(), timeout=5) is not None
    finally:
        restarted.stop()
