"""Concurrent clients racing two pooling-api workers for the last capacity (MariaDB)."""

import concurrent.futures
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import sqlalchemy as sa

from pooling import context
from pooling.db import api as db_api
from pooling.db import migration
from pooling.objects import host as host_obj
from tests.functional import fixtures

CLIENTS = 24
DEVICES = 2
SHARE = 30  # percent: three fit on a card, so exactly 2 × 3 claims can win


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _post(url, body):
    req = urllib.request.Request(url, json.dumps(body).encode(), method='POST',
                                 headers={'Content-Type': 'application/json',
                                          'X-Project-Id': 'racer', 'X-Roles': 'member'})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def _start_api(db_url, port, transport_url):
    conf_file = tempfile.NamedTemporaryFile('w', suffix='.conf', delete=False)
    conf_file.write('[DEFAULT]\ntransport_url = %s\ncontrol_exchange = race-%d\n'
                    '[database]\nconnection = %s\n'
                    '[api]\nport = %d\nworkers = 2\nauth_strategy = noauth\n'
                    '[scheduler]\nmodel_refresh_interval = 60\n'
                    % (transport_url, port, db_url, port))
    conf_file.close()
    proc = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), 'pooling-api'),
                             '--config-file', conf_file.name],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen('http://127.0.0.1:%d/' % port, timeout=1)
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError('pooling-api did not start: %s' % proc.stdout.read().decode())


def test_concurrent_claims_never_double_allocate(mysql_db):
    restore = db_api.use_connection(mysql_db.url)
    migration.upgrade()
    host_obj.report(context.get_admin_context(), 'gpu-race', 'default', 'f', 0, 0, [
        {'uuid': 'race-%d' % i, 'vendor': 'nvidia', 'model': 'A100', 'memory_mb': 80000,
         'compute_units': 108, 'healthy': True} for i in range(DEVICES)])
    port = _free_port()
    vhost = fixtures.RabbitVhost()
    proc = _start_api(mysql_db.url, port, vhost.create())
    try:
        # Every worker loads its model before the race, so both decide on the same state.
        for _ in range(4):
            urllib.request.urlopen('http://127.0.0.1:%d/v1/devices' % port)
        barrier = threading.Barrier(CLIENTS)

        def claim(i):
            barrier.wait()
            return _post('http://127.0.0.1:%d/v1/vgpus' % port,
                         {'name': 'r%d' % i, 'compute_percent': SHARE, 'memory_mb': 1000})

        with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
            results = list(pool.map(claim, range(CLIENTS)))
    finally:
        proc.terminate()
        proc.wait(10)
        vhost.drop()
    statuses = sorted(status for status, _ in results)
    winners = [body for status, body in results if status == 201]
    assert set(statuses) <= {201, 409}, statuses
    assert len(winners) == DEVICES * (100 // SHARE), statuses
    for status, body in results:
        if status == 409:
            assert body['errors'][0]['detail'], body
    engine = db_api.get_engine()
    with engine.connect() as conn:
        devices = conn.execute(sa.text(
            'SELECT uuid, compute_used, compute_total, memory_used, memory_mb FROM devices'))
        for uuid, used, total, mem_used, mem in devices:
            assert used <= total and mem_used <= mem, uuid
            slices = conn.execute(sa.text(
                'SELECT COALESCE(SUM(s.compute_milli), 0) FROM slices s JOIN devices d '
                'ON d.id = s.device_id WHERE d.uuid = :u'), {'u': uuid}).scalar()
            assert slices == used, uuid  # the device's books match its slices
        for vgpu in winners:
            n = conn.execute(sa.text('SELECT COUNT(*) FROM slices s JOIN vgpus v ON '
                                     'v.id = s.vgpu_id WHERE v.uuid = :u'),
                             {'u': vgpu['uuid']}).scalar()
            assert n == 1  # every 201 is backed by its slice
    engine.dispose()
    restore()


def test_concurrent_claims_never_exceed_a_quota(mysql_db):
    restore = db_api.use_connection(mysql_db.url)
    migration.upgrade()
    ctx = context.get_admin_context()
    host_obj.report(ctx, 'gpu-q', 'default', 'f', 0, 0, [
        {'uuid': 'q-%d' % i, 'vendor': 'nvidia', 'model': 'A100', 'memory_mb': 80000,
         'compute_units': 108, 'healthy': True} for i in range(4)])
    from pooling.objects import quota as quota_obj

    quota_obj.set_quota(ctx, 'racer', vgpus=3)
    port = _free_port()
    vhost = fixtures.RabbitVhost()
    proc = _start_api(mysql_db.url, port, vhost.create())
    try:
        barrier = threading.Barrier(16)

        def claim(i):
            barrier.wait()
            return _post('http://127.0.0.1:%d/v1/vgpus' % port,
                         {'name': 'q%d' % i, 'compute_percent': 10, 'memory_mb': 100})

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            results = list(pool.map(claim, range(16)))
    finally:
        proc.terminate()
        proc.wait(10)
        vhost.drop()
    statuses = sorted(status for status, _ in results)
    assert statuses.count(201) == 3, statuses
    assert all(body['errors'][0]['code'] == 'pooling.quota_exceeded'
               for status, body in results if status == 409)
    assert quota_obj.get_quota(ctx, 'racer')['usage']['vgpus'] == 3
    db_api.get_engine().dispose()
    restore()
