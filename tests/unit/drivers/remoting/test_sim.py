"""The sim backend: a server process per lease enforcing the slice; its supervisor."""

import os
import sys
import time

import numpy as np
import pytest

from pooling_drivers.remoting import base
from pooling_drivers.remoting import sim
from pooling_drivers.remoting import simclient
from pooling_drivers.remoting import supervisor


@pytest.fixture
def driver(tmp_path):
    d = sim.SimDriver({'run_dir': str(tmp_path), 'backoff_initial': 0.1})
    yield d
    d.stop_all()


def start(driver, lease_id='s1', memory_mib=64, compute_pct=100, cards=('GPU-a',)):
    ep = driver.start(base.RemoteSliceRequest(lease_id, 'v-' + lease_id, cards, memory_mib,
                                              compute_pct))
    return ep, simclient.devices(ep.address)


def test_saxpy_and_matmul_compute_on_the_backend(driver):
    _, (dev,) = start(driver)
    x = np.arange(1000, dtype=np.float32)
    bx, by = dev.upload(x), dev.upload(np.ones(1000, dtype=np.float32))
    dev.saxpy(3.0, bx, by, 1000)
    assert np.array_equal(dev.download(by, np.float32, 1000), 3 * x + 1)
    a = np.random.default_rng(1).standard_normal((8, 5), dtype=np.float32)
    b = np.random.default_rng(2).standard_normal((5, 3), dtype=np.float32)
    ba, bb, bc = dev.upload(a), dev.upload(b), dev.malloc(8 * 3 * 4)
    dev.matmul(ba, bb, bc, 8, 5, 3)
    assert np.allclose(dev.download(bc, np.float32, 24).reshape(8, 3), a @ b, atol=1e-5)


def test_memory_limit_names_the_limit_and_is_shared_by_contexts(driver):
    ep, (dev,) = start(driver, memory_mib=64)
    buf = dev.malloc(40 << 20)
    (other,) = simclient.devices(ep.address)  # a second context on the same slice
    with pytest.raises(simclient.OutOfMemory, match='slice limit of 64 MiB'):
        other.malloc(30 << 20)
    dev.free(buf)
    other.malloc(30 << 20)
    assert other.mem_info() == ((64 - 30) << 20, 64 << 20)


def test_closing_a_context_frees_its_memory(driver):
    ep, (dev,) = start(driver, memory_mib=16)
    dev.malloc(16 << 20)
    dev.conn.close()
    deadline = time.monotonic() + 5
    (fresh,) = simclient.devices(ep.address)
    while fresh.mem_info()[0] != 16 << 20:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_each_card_has_its_own_limit(driver):
    _, devs = start(driver, cards=('GPU-a', 'GPU-b'), memory_mib=8)
    assert [d.uuid for d in devs] == ['GPU-a', 'GPU-b']
    devs[0].malloc(8 << 20)
    devs[1].malloc(8 << 20)


def test_bad_requests_get_errors_not_crashes(driver):
    _, (dev,) = start(driver)
    with pytest.raises(simclient.SimError) as err:
        dev.dtoh(simclient.Buffer(12345, 4))
    assert err.value.code == 'bad_pointer'
    buf = dev.malloc(16)
    with pytest.raises(simclient.SimError) as err:
        dev.htod(buf, b'x' * 32)
    assert err.value.code == 'out_of_range'
    with pytest.raises(simclient.SimError) as err:
        dev.conn.call('launch_missiles')
    assert err.value.code == 'bad_op'
    dev.htod(buf, b'y' * 16)  # the connection still works
    assert dev.dtoh(buf) == b'y' * 16


def test_compute_share_throttles_kernels(driver):
    # One kernel's own time is measured by the server; a 25 % share must hold the call about
    # four times as long.  Compared with itself, not timed against a constant.
    _, (dev,) = start(driver, compute_pct=25, memory_mib=256)
    n = 4 << 20
    bx, by = dev.malloc(n * 4), dev.malloc(n * 4)
    started = time.perf_counter()
    kernel = dev.saxpy(1.0, bx, by, n)
    elapsed = time.perf_counter() - started
    assert elapsed >= 3.5 * kernel


def test_counters_count_consumer_traffic_only(driver):
    _, (dev,) = start(driver)
    dev.htod(dev.malloc(1 << 20), b'z' * (1 << 20))
    # NOTE: the backend counts after it answered; wait (at most 5 s) until the count settles.
    deadline = time.monotonic() + 5
    c1 = driver.counters('s1')
    while c1.bytes_in <= 1 << 20 and time.monotonic() < deadline:
        time.sleep(0.02)
        c1 = driver.counters('s1')
    c2 = driver.counters('s1')  # the stats connection is not counted
    assert c1.bytes_in > 1 << 20 and c1 == c2
    assert (c1.connections, c1.connections_total) == (1, 1)


def test_the_backend_listens_on_a_private_socket(driver):
    ep, _ = start(driver)
    assert ep.transport == 'unix'
    assert os.stat(ep.path).st_mode & 0o077 == 0


def test_a_killed_backend_is_restarted(driver):
    ep, _ = start(driver)
    pid = driver.health('s1').pid
    os.kill(pid, 9)
    deadline = time.monotonic() + 10
    while not (driver.health('s1').healthy and driver.health('s1').pid not in (None, pid)):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert driver.health('s1').restarts == 1
    simclient.devices(ep.address)


def test_a_crash_loop_degrades_and_calls_back():
    calls = []
    sup = supervisor.Supervisor(
        'crashy', [sys.executable, '-c', 'import sys; print("READY x", flush=True); sys.exit(4)'],
        dict(os.environ), r'^READY', on_degraded=lambda lease, why: calls.append((lease, why)),
        max_restarts=2, backoff_initial=0.01)
    sup.start()
    deadline = time.monotonic() + 10
    # NOTE: the callback runs just after the state changes: wait for both.
    while sup.health().state != base.DEGRADED or not calls:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert len(calls) == 1 and calls[0][0] == 'crashy' and 'exited with 4' in calls[0][1]
    sup.stop()


def test_a_backend_that_never_gets_ready_is_unavailable():
    sup = supervisor.Supervisor('mute', [sys.executable, '-c', 'import time; time.sleep(30)'],
                                dict(os.environ), r'^READY', start_timeout=0.5)
    with pytest.raises(base.BackendUnavailable, match='did not get ready'):
        sup.start()
    with pytest.raises(base.BackendUnavailable, match='cannot run'):
        supervisor.Supervisor('x', ['/nonexistent/binary'], {}, 'x').start()


def test_backends_left_by_a_dead_agent_are_killed(tmp_path):
    # An agent that dies leaves its backends running (they have sessions of their own).
    old = sim.SimDriver({'run_dir': str(tmp_path)})
    old.start(base.RemoteSliceRequest('kept', 'v', ('GPU-a',), 16))
    old.start(base.RemoteSliceRequest('gone', 'v', ('GPU-b',), 16))
    pids = {lease: old.health(lease).pid for lease in ('kept', 'gone')}
    for _request, sup, _endpoint in old._leases.values():
        sup._stopping.set()  # the dead agent's supervision is gone, its processes are not
    old._leases.clear()
    new = sim.SimDriver({'run_dir': str(tmp_path)})  # the restarted agent
    try:
        new.start(base.RemoteSliceRequest('kept', 'v', ('GPU-a',), 16))
        assert new.reap_orphans() == ['gone']
        for pid in pids.values():
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
        assert new.health('kept').healthy and new.health('kept').pid != pids['kept']
        assert not os.path.exists(tmp_path / 'sim-gone.pid')
    finally:
        new.stop_all()
