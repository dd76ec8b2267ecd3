"""A stand-in kubelet: the real gRPC peer of a DRA plugin over unix sockets.

It does what the kubelet's plugin watcher and DRA manager do on the wire: find sockets in the
registry directory, ask ``GetInfo``, check the type and pick the newest DRAPlugin service it
knows from ``supported_versions``, report the outcome with ``NotifyRegistrationStatus``, then call
``NodePrepareResources`` / ``NodeUnprepareResources`` on the advertised endpoint with the stubs
of that version.  Our own .proto files generate both sides; the method paths are the contract's.
"""

import glob
import os

import grpc

from pooling_drivers.platforms.kubernetes import grpcstubs

KNOWN = ('v1.DRAPlugin', 'v1beta1.DRAPlugin')  # newest first, as the kubelet prefers


class FakeKubelet:
    def __init__(self, registry_dir, known=KNOWN):
        self.registry_dir = registry_dir
        self.known = known
        self.plugins = {}  # driver name → (version, stub module, channel)

    def discover(self):
        reg_pb2, reg_grpc = grpcstubs.load('registration')
        for path in sorted(glob.glob(os.path.join(self.registry_dir, '*.sock'))):
            with grpc.insecure_channel(f'unix://{path}') as channel:
                stub = reg_grpc.RegistrationStub(channel)
                info = stub.GetInfo(reg_pb2.InfoRequest(), timeout=5)
                version = next((v for v in self.known if v in info.supported_versions), None)
                ok = info.type == 'DRAPlugin' and version is not None
                stub.NotifyRegistrationStatus(reg_pb2.RegistrationStatus(
                    plugin_registered=ok,
                    error='' if ok else f'no supported version in {info.supported_versions}'),
                    timeout=5)
            if ok:
                pb2, pb2_grpc = grpcstubs.load('dra_' + version.split('.')[0])
                channel = grpc.insecure_channel(f'unix://{info.endpoint}')
                self.plugins[info.name] = (version, pb2, pb2_grpc.DRAPluginStub(channel),
                                           channel)
        return self.plugins

    def restart(self):
        """Forget every plugin, as a restarted kubelet does, and find them again."""
        for _v, _pb2, _stub, channel in self.plugins.values():
            channel.close()
        self.plugins = {}
        return self.discover()

    def _call(self, driver, method, claims, timeout):
        _version, pb2, stub, _channel = self.plugins[driver]
        request_type = getattr(pb2, method + 'Request')
        request = request_type(claims=[pb2.Claim(namespace=ns, uid=uid, name=name)
                                       for ns, uid, name in claims])
        return getattr(stub, method)(request, timeout=timeout)

    def prepare(self, driver, claims, timeout=60):
        return self._call(driver, 'NodePrepareResources', claims, timeout)

    def unprepare(self, driver, claims, timeout=60):
        return self._call(driver, 'NodeUnprepareResources', claims, timeout)

    def close(self):
        for _v, _pb2, _stub, channel in self.plugins.values():
            channel.close()
