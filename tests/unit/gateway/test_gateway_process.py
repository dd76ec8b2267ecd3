"""``pooling-gateway`` as a process of its own: auto PKI, control socket, admit/revoke."""

import os
import subprocess
import sys
import time

import pytest

from pooling.gateway import credentials
from pooling.gateway import lease as lease_mod
from pooling.gateway import proxy
from pooling.gateway import server
from pooling_drivers.remoting import base


@pytest.fixture
def gateway_process(tmp_path):
    conf = tmp_path / 'gateway.conf'
    conf.write_text(f'[gateway]\nauto_pki_dir = {tmp_path / "pki"}\nadvertise_host = localhost\n')
    control = str(tmp_path / 'ctl.sock')
    proc = subprocess.Popen([sys.executable, '-c', 'import sys; from pooling.gateway.server '
                             'import main; sys.exit(main())', '--control', control,
                             '--config-file', str(conf), '--host', '127.0.0.1', '--port', '0'],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line.startswith('LISTENING '), proc.stderr.read()
    deadline = time.monotonic() + 10
    while not os.path.exists(control):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    yield control, int(line.rsplit(':', 1)[1]), (tmp_path / 'pki' / 'ca.pem').read_text()
    proc.terminate()
    proc.wait(10)


def test_control_socket_admits_and_revokes(gateway_process, echo):
    control, port, ca = gateway_process
    assert os.stat(control).st_mode & 0o077 == 0
    backend = echo.start(base.RemoteSliceRequest('p1', 'v', ('GPU-0',), 64))
    cred = credentials.mint()
    assert server.control(control, 'admit', lease_id='p1', token_sha256=cred.sha256,
                          backend=backend.address, max_connections=2,
                          expires_at=cred.expires_at.timestamp())['ok']
    endpoint = lease_mod.LeaseEndpoint(f'127.0.0.1:{port}', 'p1', server_name='localhost')
    end = proxy.open_tunnel(endpoint, cred.token, proxy.client_context(ca))
    end.send_all(b'abc')
    time.sleep(0.2)
    answer = server.control(control, 'counters', lease_id='p1')
    assert answer['ok'] and answer['bytes_in'] == 3 and answer['connections'] == 1
    assert server.control(control, 'revoke', lease_id='p1') == {'ok': True, 'closed': 1}
    with pytest.raises(proxy.GatewayRefused):
        proxy.open_tunnel(endpoint, cred.token, proxy.client_context(ca))
    bad = server.control(control, 'admit', lease_id='p2', token_sha256='short',
                         backend=backend.address)
    assert not bad['ok'] and 'SHA-256' in bad['error']
    assert not server.control(control, 'dance')['ok']
