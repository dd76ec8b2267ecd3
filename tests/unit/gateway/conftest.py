"""Fixtures: a CA and gateway certificate, a running gateway on loopback, backends."""

import datetime

import pytest

from pooling.gateway import credentials
from pooling.gateway import lease as lease_mod
from pooling.gateway import pki
from pooling.gateway import proxy
from pooling.gateway import server
from pooling_drivers.remoting import base
from pooling_drivers.remoting import fake


@pytest.fixture(scope='session')
def pki_files(tmp_path_factory):
    return pki.ensure(str(tmp_path_factory.mktemp('pki')), ['localhost', '127.0.0.1'])


@pytest.fixture
def gateway(pki_files):
    gw = server.Gateway(server.server_context(pki_files.cert_file, pki_files.key_file),
                        host='127.0.0.1', port=0, handshake_timeout=2.0,
                        preamble_timeout=0.5)
    gw.start()
    yield gw
    gw.stop()


@pytest.fixture
def echo():
    driver = fake.FakeDriver()
    yield driver
    driver.stop_all()


class Lease:
    """One admitted lease: its id, credential, endpoint and a context trusting the CA."""

    def __init__(self, gateway, pki_files, backend, lease_id, max_connections=4,
                 ttl=datetime.timedelta(hours=1)):
        self.lease_id = lease_id
        self.cred = credentials.mint(ttl)
        self.backend = backend
        gateway.admit(lease_id, self.cred.sha256, backend, max_connections,
                      self.cred.expires_at)
        self.endpoint = lease_mod.LeaseEndpoint('127.0.0.1:%d' % gateway.address[1], lease_id)
        self.context = proxy.client_context(pki_files.ca_pem())
        self.ca_pem = pki_files.ca_pem()

    def document(self, protocol='fake'):
        return lease_mod.LeaseDocument('vgpu-' + self.lease_id, protocol, (self.endpoint,),
                                       self.cred.token, self.cred.expires_at, self.ca_pem)

    def tunnel(self, token=None, verb='CONNECT'):
        return proxy.open_tunnel(self.endpoint, token or self.cred.token, self.context,
                                 verb=verb, timeout=5)


@pytest.fixture
def make_lease(gateway, pki_files, echo):
    def make(lease_id='lease-a', **kwargs):
        backend = kwargs.pop('backend', None) or echo.start(
            base.RemoteSliceRequest(lease_id, 'vgpu-' + lease_id, ('GPU-0',), 1024))
        return Lease(gateway, pki_files, backend, lease_id, **kwargs)
    return make
