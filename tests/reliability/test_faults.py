"""Faults under load: kill -9 and restarts, the books checked after each, availability measured.

One pool (pooling-api with 2 workers, a conductor, 3 agents of 4 simulated
A100s) on a MariaDB and a RabbitMQ of the suite's own; 8 clients create and
delete vGPUs throughout. Each scenario runs the load for a few seconds,
injects its fault, lets the pool recover, stops the load, releases what the
clients still hold, waits for the pool to settle and checks the invariants
(tests/reliability/invariants.py). Availability (claims served per second
before, during and after the fault, and seconds from the fault's end to the
first claim served) is printed and written to $POOLING_RELIABILITY_OUT (a
JSON file) for doc/source/admin/reliability.md.

The invariants are asserted in every scenario. The availability targets of
issue 13 (one agent of three dead: >= 90 % of the no-fault claim rate once
the host is marked down; recovery <= 10 s after a conductor, RabbitMQ or
MariaDB comes back) are separate tests, so that a miss there says which
target and by how much without hiding a broken invariant.
"""

import http.client
import json
import os
import shutil
import time

import pytest
import sqlalchemy as sa

from tests.reliability import invariants
from tests.reliability import load as load_mod
from tests.reliability import pool as pool_mod
from tests.reliability import services

RESULTS: dict[str, dict] = {}
PRE, POST = 5.0, 8.0


class Env:
    pass


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    for binary in ('mariadbd', 'mariadb-install-db', 'epmd'):
        if not shutil.which(binary) and not os.path.exists('/usr/sbin/' + binary):
            pytest.skip('%s is not installed' % binary)
    work = tmp_path_factory.mktemp('reliability')
    e = Env()
    e.names = {}  # process -> conductor name (hostname:pid), once it beat
    e.db = services.MariaDB(work).start()
    e.mq = services.RabbitMQ(work).start()
    try:
        e.db_url = e.db.url('pooling_rel')
        e.pool = pool_mod.Pool(work, e.db_url, e.mq.url).start_all()
        e.engine = sa.create_engine(e.db_url, pool_pre_ping=True)
        yield e
    finally:
        if getattr(e, 'pool', None):
            e.pool.stop()
        e.mq.stop()
        e.db.stop()
        out = os.environ.get('POOLING_RELIABILITY_OUT')
        if out and RESULTS:
            with open(out, 'w') as f:
                json.dump(RESULTS, f, indent=2, sort_keys=True)
        _print_table()


def _print_table():
    print('\nscenario | claims/s before | during | after | served during | '
          'recovery s | settle s')
    for name, r in RESULTS.items():
        print('%s | %.1f | %.1f | %.1f | %d/%d | %s | %.1f' % (
            name, r['rate_before'], r['rate_during'], r['rate_after'], r['served_during'],
            r['tried_during'], r['recovery_s'], r['settle_s']))


def _release(port, uuids, timeout=60):
    """Delete what the clients still hold, retrying until the API takes each."""
    deadline = time.monotonic() + timeout
    left = list(uuids)
    while left and time.monotonic() < deadline:
        uuid = left[0]
        try:
            conn = http.client.HTTPConnection('127.0.0.1', port, timeout=15)
            conn.request('DELETE', '/v1/vgpus/' + uuid,
                         headers={'X-Project-Id': 'rel', 'X-Roles': 'admin'})
            status = conn.getresponse().status
            conn.close()
        except OSError:
            status = 0
        if status in (202, 404):
            left.pop(0)
        else:
            time.sleep(0.5)
    assert not left, 'could not release %d vGPUs' % len(left)


def _wait(predicate, timeout, what):
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < timeout, 'timed out waiting for ' + what
        time.sleep(0.2)
    return time.monotonic() - started


# -- faults: each returns (fault start, fault end, extra figures) --------------

def no_fault(e):
    now = time.monotonic()
    time.sleep(4)
    return now, now, {}


def _conductor_names(e) -> set:
    with e.engine.connect() as conn:
        return {r[0] for r in conn.execute(sa.text('SELECT name FROM conductors'))}


def _start_conductor(e, name) -> float:
    """Start ``name`` and wait for its first heartbeat: the conductor is back.

    Its start (imports, connections) took 3 to 12 s on the 2-core CI machine
    under load; that is the service coming back, not the pool recovering.
    """
    known = _conductor_names(e)
    e.pool.start(name)
    took = _wait(lambda: bool(_conductor_names(e) - known), 60, name + ' to beat')
    e.names[name] = (_conductor_names(e) - known).pop()
    return took


def kill_conductor(e):
    start = time.monotonic()
    e.pool.kill('pooling-conductor')
    time.sleep(3)
    startup = _start_conductor(e, 'pooling-conductor')
    return start, time.monotonic(), {'start_s': round(startup, 1)}


def _transitional(e) -> dict:
    """{uuid: the conductor driving it (None: nobody took its cast yet)}."""
    try:
        with e.engine.connect() as conn:
            return dict(conn.execute(sa.text(
                'SELECT uuid, conductor FROM vgpus WHERE state IN '
                "('SCHEDULED', 'PREPARING', 'RELEASING')")).all())
    except sa.exc.OperationalError:
        return {}


def kill_one_of_two_conductors(e):
    """A second conductor runs; the first is killed and stays dead: the second takes over."""
    _start_conductor(e, 'pooling-conductor-2')
    time.sleep(2)  # both receive casts
    start = time.monotonic()
    e.pool.kill('pooling-conductor')
    time.sleep(0.5)  # what it had taken from the queue and not finished
    held = _transitional(e)
    left = set(held)
    extra = {'in_flight_at_kill': len(left),
             'held_by_killed': len([c for c in held.values()
                                    if c == e.names.get('pooling-conductor')])}
    extra['takeover_s'] = round(_wait(lambda: not (left & set(_transitional(e))), 60,
                                      'the other conductor to take over') + 0.5, 1)
    end = time.monotonic()
    time.sleep(POST)  # served by the survivor alone
    extra['survivor_window'] = (end, time.monotonic())
    # Back to one conductor for the next scenarios: the first restarts, the second stops
    # cleanly (its heartbeat row is dropped, so what it drove is taken over at once).
    _start_conductor(e, 'pooling-conductor')
    e.pool.stop_one('pooling-conductor-2')
    return start, end, extra


def kill_agent(e):
    start = time.monotonic()
    e.pool.kill('rel-gpu-0')
    down_after = _wait(lambda: e.pool.host_state('rel-gpu-0') == 'down', 60, 'the down mark')
    marked = time.monotonic()
    time.sleep(6)  # the pool on two hosts of three
    extra = {'down_mark_s': round(down_after, 1), 'down_window': (marked, time.monotonic())}
    e.pool.start('rel-gpu-0')
    _wait(lambda: e.pool.host_state('rel-gpu-0') == 'up', 60, 'the agent to come back')
    return start, time.monotonic(), extra


def kill_api_worker(e):
    start = time.monotonic()
    workers = e.pool.api_workers()
    assert workers, 'no gunicorn worker found'
    os.kill(workers[0], 9)
    _wait(lambda: len(e.pool.api_workers()) == len(workers) and
          workers[0] not in e.pool.api_workers(), 30, 'gunicorn to replace the worker')
    return start, time.monotonic(), {}


def restart_rabbitmq(e):
    start = time.monotonic()
    e.mq.kill()
    time.sleep(3)
    e.mq.start()
    return start, time.monotonic(), {}


def restart_mariadb(e):
    start = time.monotonic()
    e.db.kill()
    time.sleep(3)
    e.db.start()
    return start, time.monotonic(), {}


SCENARIOS = [('no fault', no_fault), ('kill -9 conductor', kill_conductor),
             ('kill -9 one conductor of two', kill_one_of_two_conductors),
             ('kill -9 one agent of three', kill_agent),
             ('kill -9 an API worker', kill_api_worker),
             ('restart RabbitMQ (kill -9)', restart_rabbitmq),
             ('restart MariaDB (kill -9)', restart_mariadb)]


@pytest.mark.parametrize('name,fault', SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_scenario(env, name, fault):
    load = load_mod.Load(env.pool.port).start()
    began = time.monotonic()
    time.sleep(PRE)
    start, end, extra = fault(env)
    time.sleep(POST)
    finished = time.monotonic()
    load.stop()
    _release(env.pool.port, load.leftovers())
    settle = invariants.wait_settled(env.engine)
    counted = invariants.check(env.engine, load.created)
    before, _ = load.creates(began, start)
    during, tried = load.creates(start, end)
    after, _ = load.creates(end, finished)
    result = {
        'rate_before': before / (start - began),
        'rate_during': during / (end - start) if end > start else float(before / PRE),
        'rate_after': after / (finished - end),
        'served_during': during, 'tried_during': tried,
        'recovery_s': (round(load.first_success_after(end), 1)
                       if load.first_success_after(end) is not None else None),
        'settle_s': round(settle, 1), 'fault_s': round(end - start, 1),
        'vgpus': counted['vgpus'],
        'creates_during': load.statuses(start, end),
        'creates_after': load.statuses(end, finished),
    }
    if 'down_window' in extra:
        lo, hi = extra.pop('down_window')
        served, _ = load.creates(lo, hi)
        extra['rate_after_down_mark'] = served / (hi - lo)
    if 'survivor_window' in extra:
        lo, hi = extra.pop('survivor_window')
        served, _ = load.creates(lo, hi)
        extra['rate_survivor'] = served / (hi - lo)
    result.update(extra)
    RESULTS[name] = result
    print('\n%s: %s' % (name, json.dumps(result)))


def _baseline():
    base = RESULTS.get('no fault')
    if not base:
        pytest.skip('the no-fault scenario did not run')
    # NOTE: the higher of its two windows: the first one starts the pool's
    # load cold and, with other jobs on the machine, gave 33 claims/s where
    # the next gave 48; a low reference would make the 90 % target a no-op.
    return max(base['rate_before'], base['rate_after'])


def test_target_dead_agent_keeps_90_percent():
    base = _baseline()
    r = RESULTS.get('kill -9 one agent of three')
    assert r, 'scenario did not run'
    assert r['rate_after_down_mark'] >= 0.9 * base, (r['rate_after_down_mark'], base)


@pytest.mark.parametrize('name', ['kill -9 conductor', 'restart RabbitMQ (kill -9)',
                                  'restart MariaDB (kill -9)'])
def test_target_recovery_within_10_s(name):
    r = RESULTS.get(name)
    assert r, 'scenario did not run'
    assert r['recovery_s'] is not None and r['recovery_s'] <= 10, r


def test_target_killed_conductors_work_taken_over_in_seconds():
    """The survivor finishes what the dead one held within takeover_after + a beat + slack."""
    r = RESULTS.get('kill -9 one conductor of two')
    assert r, 'scenario did not run'
    bound = pool_mod.SETTINGS['takeover_after'] + pool_mod.SETTINGS['heartbeat_interval'] + 2
    assert r['takeover_s'] <= bound, r
    assert r['recovery_s'] is not None and r['recovery_s'] <= 10, r
