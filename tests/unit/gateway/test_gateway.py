"""The gateway's admission protocol and splice, against the fake (echo) backend on loopback."""

import datetime
import select
import socket
import ssl
import time

import pytest

from pooling.gateway import credentials
from pooling.gateway import proxy
from pooling.gateway import tls
from pooling_drivers.remoting import base


def recv_exact(end, n, timeout=5.0):
    """Read ``n`` plaintext bytes from a TlsEnd (or b'' on EOF)."""
    got = b''
    deadline = time.monotonic() + timeout
    while len(got) < n:
        if not end.buffered():
            left = deadline - time.monotonic()
            assert left > 0, 'timed out'
            select.select([end], [], [], left)
        bufs = end.read()
        if bufs is None:
            return got
        got += b''.join(bytes(b) for b in bufs)
    return got


def closed_within(end, seconds):
    """True when the gateway closes ``end`` within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        select.select([end], [], [], 0.05)
        if end.read() is None:
            return True
    return False


def raw_tls(gateway, pki_files):
    sock = socket.create_connection(gateway.address, timeout=5)
    end = tls.TlsEnd(sock, ssl.create_default_context(cafile=pki_files.ca_file),
                     server_side=False, server_hostname='localhost')
    end.handshake(5)
    return end


def test_admitted_token_is_spliced_byte_for_byte(make_lease, gateway):
    lease = make_lease()
    end = lease.tunnel()
    payload = bytes(range(256)) * 4096  # 1 MiB, every byte value
    end.send_all(payload, timeout=10)
    assert recv_exact(end, len(payload)) == payload
    counters = gateway.counters(lease.lease_id)
    assert counters.bytes_in == counters.bytes_out == len(payload)
    assert (counters.connections, counters.connections_total) == (1, 1)
    end.close()


def test_each_connection_gets_its_own_backend_connection(make_lease, echo):
    lease = make_lease()
    ends = [lease.tunnel() for _ in range(3)]
    for i, end in enumerate(ends):
        end.send_all(b'ctx%d' % i)
    assert [recv_exact(e, 4) for e in ends] == [b'ctx0', b'ctx1', b'ctx2']
    assert echo.counters(lease.lease_id).connections_total == 3


def test_wrong_token_is_denied(make_lease):
    lease = make_lease()
    with pytest.raises(proxy.GatewayRefused) as err:
        lease.tunnel(token=credentials.mint().token)
    assert err.value.code == 'denied'


def test_another_lease_token_is_denied(make_lease):
    a, b = make_lease('lease-a'), make_lease('lease-b')
    with pytest.raises(proxy.GatewayRefused) as err:
        proxy.open_tunnel(a.endpoint, b.cred.token, a.context)
    assert err.value.code == 'denied'


def test_unknown_lease_is_denied_like_a_wrong_token(make_lease):
    lease = make_lease()
    ghost = type(lease.endpoint)(lease.endpoint.gateway, 'no-such-lease')
    with pytest.raises(proxy.GatewayRefused) as err:
        proxy.open_tunnel(ghost, lease.cred.token, lease.context)
    assert (err.value.code, err.value.text) == ('denied', 'credential refused')


def test_expired_credential_is_refused_and_closes_connections(make_lease, gateway):
    lease = make_lease(ttl=datetime.timedelta(seconds=1))
    end = lease.tunnel()
    end.send_all(b'ping')
    assert recv_exact(end, 4) == b'ping'
    assert closed_within(end, 2.0)  # expiry cuts the open connection
    with pytest.raises(proxy.GatewayRefused) as err:
        lease.tunnel()
    assert err.value.code == 'expired'


def test_renewal_keeps_connections_and_moves_expiry(make_lease, gateway):
    lease = make_lease(ttl=datetime.timedelta(seconds=1))
    end = lease.tunnel()
    renewed = credentials.mint()
    gateway.admit(lease.lease_id, renewed.sha256, lease.backend, 4, renewed.expires_at)
    time.sleep(1.3)
    end.send_all(b'still')
    assert recv_exact(end, 5) == b'still'
    with pytest.raises(proxy.GatewayRefused):
        lease.tunnel()  # the old token is gone
    assert lease.tunnel(token=renewed.token)


def test_revoke_closes_connections_within_a_second(make_lease, gateway):
    lease = make_lease()
    ends = [lease.tunnel(), lease.tunnel()]
    started = time.monotonic()
    assert gateway.revoke(lease.lease_id) == 2
    assert all(closed_within(end, 1.0) for end in ends)
    assert time.monotonic() - started < 1.0


def test_token_replayed_after_revoke_is_denied(make_lease, gateway):
    lease = make_lease()
    lease.tunnel().close()
    gateway.revoke(lease.lease_id)
    with pytest.raises(proxy.GatewayRefused) as err:
        lease.tunnel()
    assert err.value.code == 'denied'
    with pytest.raises(base.LeaseNotFound):
        gateway.counters(lease.lease_id)


def test_connection_limit_per_lease(make_lease):
    lease = make_lease(max_connections=2)
    first, _second = lease.tunnel(), lease.tunnel()
    with pytest.raises(proxy.GatewayRefused) as err:
        lease.tunnel()
    assert err.value.code == 'busy'
    first.close()
    deadline = time.monotonic() + 2
    while True:  # the slot frees once the gateway sees the close
        try:
            assert lease.tunnel()
            break
        except proxy.GatewayRefused:
            assert time.monotonic() < deadline
            time.sleep(0.05)


def test_check_verb_opens_no_backend_connection(make_lease, echo):
    lease = make_lease()
    lease.tunnel(verb='CHECK').close()
    assert echo.counters(lease.lease_id).connections_total == 0


def test_backend_down_is_reported_unavailable(make_lease, echo):
    lease = make_lease()
    echo.stop(lease.lease_id)
    with pytest.raises(proxy.GatewayRefused) as err:
        lease.tunnel()
    assert err.value.code == 'unavailable'


def test_oversize_preamble_is_refused(gateway, pki_files, make_lease):
    make_lease()
    end = raw_tls(gateway, pki_files)
    end.send_all(b'POOLING-GW/1 CONNECT lease-a ' + b'x' * 600)
    line, _ = end.read_line(600, 2)
    assert tls.parse_answer(line)[0] == 'bad-preamble'


def test_malformed_preamble_is_refused(gateway, pki_files, make_lease):
    make_lease()
    end = raw_tls(gateway, pki_files)
    end.send_all(b'PRI * HTTP/2.0\r\n')  # a LUPINE client dialling the gateway directly
    line, _ = end.read_line(600, 2)
    assert tls.parse_answer(line)[0] == 'bad-preamble'


def test_slow_preamble_is_cut(gateway, pki_files, make_lease):
    make_lease()
    end = raw_tls(gateway, pki_files)
    end.send_all(b'POOLING-GW/1 CONN')  # and then nothing
    started = time.monotonic()
    line, _ = end.read_line(600, 3)
    assert tls.parse_answer(line)[0] == 'bad-preamble'
    assert time.monotonic() - started < 1.5  # preamble_timeout is 0.5 s in the fixture


def test_plaintext_client_gets_no_backend_byte(gateway, make_lease):
    make_lease()
    sock = socket.create_connection(gateway.address, timeout=3)
    sock.sendall(b'\x00' * 64 + b'\n')
    data = b''
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    assert b'OK' not in data


def test_gateway_certificate_is_checked_against_the_lease_ca(make_lease):
    from pooling.gateway import pki

    lease = make_lease()
    _key, other_ca = pki.make_ca('someone else')
    from cryptography.hazmat.primitives import serialization

    context = proxy.client_context(other_ca.public_bytes(serialization.Encoding.PEM).decode())
    with pytest.raises(proxy.GatewayUnreachable, match='TLS verification'):
        proxy.open_tunnel(lease.endpoint, lease.cred.token, context, timeout=3)


def test_unreachable_gateway(make_lease):
    lease = make_lease()
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    dead = type(lease.endpoint)('127.0.0.1:%d' % port, lease.lease_id)
    with pytest.raises(proxy.GatewayUnreachable, match='cannot reach'):
        proxy.open_tunnel(dead, lease.cred.token, lease.context, timeout=2)


def test_tokens_never_reach_the_log(make_lease, caplog):
    caplog.set_level('DEBUG')
    lease = make_lease()
    lease.tunnel().close()
    with pytest.raises(proxy.GatewayRefused):
        lease.tunnel(token='x' * 43)
    assert lease.cred.token not in caplog.text and 'x' * 43 not in caplog.text
    assert lease.cred.sha256 not in caplog.text


def test_admit_validates(gateway, echo):
    ep = base.BackendEndpoint('tcp', host='127.0.0.1', port=1)
    with pytest.raises(ValueError):
        gateway.admit('l', 'not-a-hash', ep)
    with pytest.raises(ValueError):
        gateway.admit('l', 'a' * 64, ep, max_connections=0)


def test_local_proxy_serves_only_its_own_user(make_lease):
    import os
    import subprocess

    lease = make_lease()
    local = proxy.LocalProxy(lease.endpoint, lease.cred.token, lease.context)
    host, port = local.start().split(':')
    try:
        sock = socket.create_connection((host, int(port)), timeout=5)
        sock.sendall(b'mine')
        assert sock.recv(4) == b'mine'
        sock.close()
        other_python = '/usr/bin/python3'  # the venv's may not be readable by another user
        if os.getuid() != 0 or not os.path.exists(other_python):
            pytest.skip('needs root and /usr/bin/python3 to connect as another user')
        probe = ('import socket; s = socket.create_connection(("%s", %s), timeout=5); '
                 's.sendall(b"x"); print(repr(s.recv(1)))' % (host, port))
        out = subprocess.run([other_python, '-c', probe], cwd='/', capture_output=True, text=True,
                             timeout=30, preexec_fn=lambda: os.setuid(65534))
        assert out.stdout.strip() in ("b''", '') or 'ConnectionResetError' in out.stderr
    finally:
        local.stop()
