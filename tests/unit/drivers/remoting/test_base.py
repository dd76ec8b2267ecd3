"""The remoting contract and its first-class fake."""

import time

import pytest

from pooling_drivers.remoting import base
from pooling_drivers.remoting import fake


def req(lease_id='l1', **over):
    kwargs = dict(lease_id=lease_id, vgpu_uuid='v1', visible_uuids=('GPU-1',), memory_mib=1024,
                  compute_pct=50, isolation_env={'CUDA_MPS_ACTIVE_THREAD_PERCENTAGE': '50'})
    kwargs.update(over)
    return base.RemoteSliceRequest(**kwargs)


@pytest.mark.parametrize('over, match', [
    ({'lease_id': '../x'}, 'lease_id'),
    ({'visible_uuids': ()}, 'visible uuid'),
    ({'visible_uuids': 'GPU-1'}, 'sequence'),
    ({'visible_uuids': ('a,b',)}, 'comma'),
    ({'memory_mib': 0}, 'memory_mib'),
    ({'compute_pct': 101}, 'compute_pct'),
])
def test_request_validation(over, match):
    with pytest.raises(ValueError, match=match):
        req(**over)


def test_request_round_trip():
    r = req(visible_uuids=['MIG-a', 'MIG-b'])
    assert r.visible_uuids == ('MIG-a', 'MIG-b')
    assert base.RemoteSliceRequest.from_dict(r.to_dict()) == r
    with pytest.raises(ValueError, match='bad remote slice request'):
        base.RemoteSliceRequest.from_dict({'lease_id': 'x'})


@pytest.mark.parametrize('address', ['127.0.0.1:5', 'unix:/run/x.sock', '[::1]:7'])
def test_endpoint_parse_round_trip(address):
    ep = base.BackendEndpoint.parse(address)
    assert ep.address == address
    assert base.BackendEndpoint.from_dict(ep.to_dict()) == ep


@pytest.mark.parametrize('address', ['10.0.0.1:5', 'unix:relative', 'nohost'])
def test_endpoint_must_be_local(address):
    with pytest.raises(ValueError):
        base.BackendEndpoint.parse(address)


def test_plugins_load_by_name():
    for name in ('fake', 'sim', 'lupine'):
        assert base.driver_class(name).name == name
    with pytest.raises(base.UnknownRemotingDriver, match='nope'):
        base.load('nope')


def test_fake_keeps_the_contract():
    degraded = []
    driver = base.load('fake', on_degraded=lambda lease, why: degraded.append((lease, why)))
    assert isinstance(driver, fake.FakeDriver)
    ep = driver.start(req())
    assert driver.start(req()) == ep  # idempotent
    with pytest.raises(base.RemotingError, match='another request'):
        driver.start(req(memory_mib=2048))
    sock = ep.connect()
    sock.sendall(b'hello')
    assert sock.recv(5) == b'hello'
    # NOTE: the echo thread may count the bytes just after it echoed them back.
    deadline = time.monotonic() + 2
    while driver.counters('l1').bytes_in < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    counters = driver.counters('l1')
    assert (counters.bytes_in, counters.connections, counters.connections_total) == (5, 1, 1)
    assert driver.health('l1').healthy
    driver.crash('l1', 'boom')
    assert driver.health('l1').state == base.DEGRADED and degraded == [('l1', 'boom')]
    driver.stop('l1')
    driver.stop('l1')
    with pytest.raises(base.LeaseNotFound):
        driver.health('l1')
    assert driver.leases() == ()


def test_probe_result_ok():
    assert base.ProbeResult('x', True).ok
    assert not base.ProbeResult('x', True, '1.0', '1.1').ok
    assert not base.ProbeResult('x', False).ok
