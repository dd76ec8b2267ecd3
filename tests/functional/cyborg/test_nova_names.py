"""The vGPU of a bound ARQ is named after its Nova server, on a real pool (MariaDB, RabbitMQ).

Cyborg is the in-memory stand-in of test_sync.py; Nova is ``NovaStandIn`` below, a real HTTP
server answering ``GET /servers/<id>`` from a dict (a stand-in, not Nova: tests/openstack runs
the real one). The pool reaches it through its own client and ``[nova]`` options
(keystoneauth's ``none`` plugin and an ``endpoint_override``).
"""

import http.server
import json
import threading
import time
import uuid

import sqlalchemy as sa

from pooling import context as pooling_context
from pooling.cyborg import opts
from pooling.cyborg import sync
from pooling.db import api as db_api
from pooling.db import models
from tests.functional.cyborg.fakes import FakeCyborg
from tests.functional.cyborg.fakes import bound_arq as _arq


class NovaStandIn:
    """A stand-in for Nova's compute API: ``GET /servers/<id>`` → ``{"server": {...}}`` or 404.

    ``stop()`` closes the port (Nova down); ``start()`` listens again on the same port.
    """

    def __init__(self, servers: dict):
        self.servers, self.gets, self.port = servers, [], 0
        self.httpd = None

    def start(self):
        stand_in = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                stand_in.gets.append(self.path)
                server_id = self.path.rsplit('/', 1)[-1]
                if not self.path.startswith('/servers/') or server_id not in stand_in.servers:
                    self._answer(404, {'itemNotFound': {'code': 404, 'message': 'not found'}})
                    return
                self._answer(200, {'server': {'id': server_id,
                                              'name': stand_in.servers[server_id]}})

            def _answer(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', self.port), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    @property
    def url(self):
        return 'http://127.0.0.1:%d' % self.port

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _setup(stack, servers):
    nova = NovaStandIn(servers).start()
    conf = opts.ensure(stack.conf)
    conf.set_override('enabled', True, group='cyborg')
    conf.set_override('auth_type', 'none', group='nova')
    conf.set_override('endpoint_override', nova.url, group='nova')
    conf.set_override('timeout', 2, group='nova')
    body = {'name': 'quarter', 'compute_percent': 25, 'memory_mb': 10240,
            'models': ['A100-SXM4-80GB']}
    assert stack.client.post('/v1/profiles', body).status_int == 201
    cyborg = FakeCyborg()
    ctx = pooling_context.get_admin_context()
    conductor = stack.services['conductor'].endpoint

    def run():
        return sync.run_once(ctx, conf, conductor=conductor, cyborg=cyborg)

    run()  # publishes the profile
    return nova, cyborg, run


def _vgpus(stack):
    return {v['uuid']: v for v in stack.client.get('/v1/vgpus?all_projects=true').json['vgpus']}


def test_named_after_server_or_instance_until_nova_answers(stack):
    web, db = str(uuid.uuid4()), str(uuid.uuid4())
    nova, cyborg, run = _setup(stack, {web: 'web-1', db: 'db-1'})
    try:
        first = dict(_arq('pool-quarter', 'gpu-a'), instance_uuid=web)
        cyborg.arqs = [first]
        [v_web] = run()['arqs']['bound']
        vgpu = stack.wait_state(v_web, ('ACTIVE',))
        assert vgpu['name'] == 'web-1'
        assert vgpu['consumer'] == {'platform': 'nova', 'host': 'gpu-a', 'id': web}
        assert 'cyborg_arq' not in vgpu  # the pool's link, not the API's
        tenant = stack.client.as_(first['project_id'], 'member,reader')
        assert tenant.get('/v1/vgpus/web-1').json['uuid'] == v_web  # the name resolves

        # Nova down: the vGPU is named after its instance, and the pass does not stall.
        nova.stop()
        second = dict(_arq('pool-quarter', 'gpu-a'), instance_uuid=db)
        cyborg.arqs = [first, second]
        started = time.monotonic()
        [v_db] = run()['arqs']['bound']
        assert time.monotonic() - started < 10
        assert _vgpus(stack)[v_db]['name'] == db
        assert run()['arqs'] == {'bound': [], 'released': [], 'failed': {}, 'unbound': {}}

        # Nova back: the next pass renames it; a vGPU already named is not asked about.
        nova.start()
        asked = len(nova.gets)
        run()
        vgpus = _vgpus(stack)
        assert (vgpus[v_db]['name'], vgpus[v_web]['name']) == ('db-1', 'web-1')
        assert nova.gets[asked:] == ['/servers/' + db]
        run()
        assert len(nova.gets) == asked + 1

        cyborg.arqs = []
        assert sorted(run()['arqs']['released']) == sorted([v_web, v_db])
        for v in (v_web, v_db):
            stack.wait_state(v, ('DELETED',))
    finally:
        nova.stop()


def test_row_from_before_the_arq_column_is_linked_renamed_and_released(stack):
    web = str(uuid.uuid4())
    nova, cyborg, run = _setup(stack, {web: 'web-1'})
    try:
        arq = dict(_arq('pool-quarter', 'gpu-a'), instance_uuid=web)
        cyborg.arqs = [arq]
        [v] = run()['arqs']['bound']
        stack.wait_state(v, ('ACTIVE',))
        # As a conductor before migration 0007 left it: named after the ARQ, no link.
        table = models.VGPU.__table__
        with db_api.get_engine().begin() as conn:
            conn.execute(sa.update(table).where(table.c.uuid == v).values(
                name='cyborg-arq-' + arq['uuid'], cyborg_arq=None))

        def link():
            with db_api.get_engine().connect() as conn:
                return conn.execute(sa.select(table.c.cyborg_arq)
                                    .where(table.c.uuid == v)).scalar()

        assert link() is None
        # A vGPU a tenant named like the ARQ of someone else's server is not that ARQ's.
        other = dict(_arq('pool-quarter', 'gpu-a'), instance_uuid=str(uuid.uuid4()))
        tenant = stack.client.as_('p-impostor', 'member,reader')
        resp = tenant.post('/v1/vgpus', {
            'name': 'cyborg-arq-' + other['uuid'], 'compute_percent': 10, 'memory_mb': 1024,
            'consumer': {'platform': 'nova', 'host': 'gpu-a', 'id': str(uuid.uuid4())}})
        assert resp.status_int == 201, resp.text
        impostor = resp.json['uuid']
        cyborg.arqs = [arq, other]
        out = run()['arqs']
        assert link() == arq['uuid']
        [v_other] = out['bound']  # the ARQ of `other` gets its own vGPU; `arq` keeps `v`
        assert out['failed'] == {}
        vgpus = _vgpus(stack)
        assert vgpus[v]['name'] == 'web-1'
        assert vgpus[v_other]['consumer']['id'] == other['instance_uuid']
        assert vgpus[impostor]['state'] != 'RELEASING'
        assert len(vgpus) == 3

        cyborg.arqs = []
        assert sorted(run()['arqs']['released']) == sorted([v, v_other])
        for gone in (v, v_other):
            stack.wait_state(gone, ('DELETED',))
    finally:
        nova.stop()
