"""Real services for functional tests: fresh databases, RabbitMQ, a whole pool.

Databases are created per test on the local MariaDB / PostgreSQL servers (and
dropped after); RPC goes through the local RabbitMQ with a control exchange of
its own per stack, so concurrent stacks never see each other's messages.
"""

import json
import os
import subprocess
import tempfile
import time
import uuid

import jsonschema
import sqlalchemy as sa
import webob

from pooling import conf as pooling_conf
from pooling import rpc
from pooling import service as pooling_service
from pooling.db import api as db_api
from pooling.db import migration

MYSQL_SERVER = os.environ.get('POOLING_TEST_MYSQL', 'mysql+pymysql://root@127.0.0.1')
PG_SERVER = os.environ.get('POOLING_TEST_PG', 'postgresql+psycopg2://postgres@127.0.0.1')
RABBIT_URL = os.environ.get('POOLING_TEST_RABBIT', 'rabbit://guest:guest@127.0.0.1:5672/')


class RabbitVhost:
    """A RabbitMQ virtual host of its own, so no other process sees our messages.

    NOTE: queue names come from RPC topics, not exchanges, so two pools on one
    broker (a developer's benchmark, another test) would steal each other's
    messages without this.
    """

    def __init__(self):
        self.name = 'pooling-test-%s' % uuid.uuid4().hex[:10]

    def create(self) -> str:
        subprocess.run(['rabbitmqctl', 'add_vhost', self.name], check=True,
                       capture_output=True)
        subprocess.run(['rabbitmqctl', 'set_permissions', '-p', self.name, 'guest', '.*', '.*',
                        '.*'], check=True, capture_output=True)
        self.url = RABBIT_URL.rstrip('/') + '/' + self.name
        return self.url

    def drop(self):
        subprocess.run(['rabbitmqctl', 'delete_vhost', self.name], capture_output=True)


class Database:
    """A database of its own on one backend: ``mysql``, ``postgresql`` or ``sqlite``."""

    def __init__(self, backend: str):
        self.backend = backend
        self.name = 'pooling_test_%s' % uuid.uuid4().hex[:12]
        self._tmp = None

    def create(self) -> str:
        if self.backend == 'sqlite':
            self._tmp = tempfile.mkdtemp()
            self.url = 'sqlite:///%s/pooling.sqlite' % self._tmp
        elif self.backend == 'mysql':
            self._admin('CREATE DATABASE %s CHARACTER SET utf8mb4' % self.name)
            self.url = '%s/%s?charset=utf8mb4' % (MYSQL_SERVER, self.name)
        else:
            self._admin('CREATE DATABASE %s' % self.name)
            self.url = '%s/%s' % (PG_SERVER, self.name)
        return self.url

    def drop(self):
        if self.backend == 'mysql':
            self._admin('DROP DATABASE IF EXISTS %s' % self.name)
        elif self.backend == 'postgresql':
            self._admin('DROP DATABASE IF EXISTS %s WITH (FORCE)' % self.name)

    def _admin(self, statement):
        server = MYSQL_SERVER + '/' if self.backend == 'mysql' else PG_SERVER + '/postgres'
        engine = sa.create_engine(server, isolation_level='AUTOCOMMIT')
        with engine.connect() as conn:
            conn.execute(sa.text(statement))
        engine.dispose()


def make_conf(db_url: str, transport_url: str = RABBIT_URL, exchange: str | None = None,
              overrides=None):
    conf = pooling_conf.new_conf([])
    conf.set_override('connection', db_url, group='database')
    conf.set_override('transport_url', transport_url)
    conf.set_override('control_exchange', exchange or 'pooling-test-%s' % uuid.uuid4().hex[:8])
    conf.set_override('auth_strategy', 'noauth', group='api')
    conf.set_override('report_interval', 1, group='agent')
    conf.set_override('reconcile_interval', 1, group='conductor')
    conf.set_override('agent_timeout', 10, group='conductor')
    conf.set_override('model_refresh_interval', 0.5, group='scheduler')
    for (group, key), value in (overrides or {}).items():
        conf.set_override(key, value, group=group)
    return conf


def check_response(method: str, path: str, resp) -> None:
    """Assert ``resp`` matches the OpenAPI document for its operation.

    Every functional test that goes through Client checks this, so the
    document is tested against real responses, not against itself.
    """
    from pooling_api import openapi
    from pooling_api.controllers import root

    template, _ = root.match(path.split('?')[0])
    if template is None or (template, method) not in openapi.OPERATIONS:
        assert resp.status_int == 404 or resp.status_int == 405, (method, path)
        schema = openapi.ERROR
    else:
        _query, _body, status, schema = openapi.OPERATIONS[(template, method)]
        if resp.status_int != status:
            schema = openapi.ERROR
            assert resp.status_int >= 400, (method, path, resp.status_int)
    if schema is None:
        assert not resp.text, (method, path, resp.text)
        return
    if schema is openapi.PROMETHEUS_TEXT:
        assert resp.content_type == 'text/plain', (method, path, resp.content_type)
        return
    assert resp.content_type == 'application/json', (method, path, resp.content_type)
    jsonschema.validate(json.loads(resp.text), schema)


class Client:
    """Calls the in-process WSGI app like an HTTP client would."""

    def __init__(self, app, project='admin', roles='admin,member,reader', user='u1'):
        self.app = app
        self.headers = {'X-Project-Id': project, 'X-Roles': roles, 'X-User-Id': user}

    def as_(self, project, roles):
        return Client(self.app, project, roles)

    def request(self, method, path, body=None, headers=None, raw=None):
        req = webob.Request.blank(path, method=method)
        for key, value in {**self.headers, **(headers or {})}.items():
            req.headers[key] = value
        if raw is not None:
            req.body = raw if isinstance(raw, bytes) else raw.encode()
            req.content_type = 'application/json'
        elif body is not None:
            req.body = json.dumps(body).encode()
            req.content_type = 'application/json'
        resp = req.get_response(self.app)
        check_response(method, path, resp)
        return resp

    def get(self, path, **kw):
        return self.request('GET', path, **kw)

    def post(self, path, body=None, **kw):
        return self.request('POST', path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.request('PUT', path, body, **kw)

    def delete(self, path, **kw):
        return self.request('DELETE', path, **kw)


class Stack:
    """Conductor + agents (threads, real RabbitMQ) + an in-process API on one DB."""

    def __init__(self, db_url, hosts, transport_url=None, overrides=None):
        self.db_url = db_url
        self.exchange = 'pooling-test-%s' % uuid.uuid4().hex[:8]
        self.vhost = None
        if transport_url is None:
            self.vhost = RabbitVhost()
            transport_url = self.vhost.create()
        self.transport_url = transport_url
        self.overrides = overrides or {}
        self.hosts = hosts  # [(name, fabric, sim_devices)]
        self.conf = make_conf(db_url, transport_url, self.exchange, self.overrides)
        self.services = {}
        self.transport = None

    def start(self):
        db_api.configure(self.conf)
        migration.upgrade()
        self.transport = rpc.get_transport(self.conf)
        self.start_conductor()
        for name, fabric, devices in self.hosts:
            self.start_agent(name, fabric, devices)
        from pooling_api import app

        self.app = app.build(self.conf, self.transport)
        self.client = Client(self.app)
        # NOTE: every configured agent; an agent may report more hosts (a vCenter's ESXi hosts).
        names = {name for name, _fabric, _devices in self.hosts}
        self.wait_for(lambda: names <= {h['name'] for h in
                                        self.client.get('/v1/hosts').json['hosts']},
                      'agents to report')
        return self

    def start_conductor(self):
        svc = pooling_service.ConductorService(self.conf, self.transport)
        svc.start()
        self.services['conductor'] = svc

    def agent_conf(self, name, fabric, devices, health_file=None):
        if getattr(self, 'state_root', None) is None:
            self.state_root = tempfile.mkdtemp(prefix='pooling-agents-')
        # Each agent its own records (a real host has its own disk); one CA for
        # the gateways; gateways on any free loopback port.
        extra = {('agent', 'host'): name, ('agent', 'fabric'): fabric,
                 ('agent', 'sim_devices'): devices,
                 ('agent', 'enabled_drivers'): ['sim'] if devices else [],
                 ('agent', 'state_dir'): os.path.join(self.state_root, name),
                 # The fake remoting backend (a real loopback echo server per
                 # lease); the netns tests run the sim data plane.
                 ('agent', 'remoting_backend'): 'fake',
                 ('gateway', 'host'): '127.0.0.1', ('gateway', 'port'): 0,
                 ('gateway', 'advertise_host'): '127.0.0.1',
                 ('gateway', 'auto_pki_dir'): os.path.join(self.state_root, 'pki')}
        if health_file:
            extra[('agent', 'sim_health_file')] = health_file
        return make_conf(self.db_url, self.transport_url, self.exchange,
                         {**self.overrides, **extra})

    def start_agent(self, name, fabric, devices, health_file=None):
        svc = pooling_service.AgentService(self.agent_conf(name, fabric, devices, health_file),
                                           self.transport)
        svc.start()
        self.services[name] = svc

    def stop_service(self, name):
        self.services.pop(name).stop()

    def stop(self):
        # NOTE: agents first, the conductor last: an agent stopping after the conductor waits
        # out the RPC timeout of the call in flight to it (the every-cloud test's vCenter
        # agent: 9 s of its 19 s teardown).
        for svc in reversed(list(self.services.values())):
            svc.stop()
        self.services.clear()
        if self.transport is not None:
            self.transport.cleanup()
            self.transport = None
        if self.vhost is not None:
            self.vhost.drop()
            self.vhost = None

    @staticmethod
    def wait_for(predicate, what, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.1)
        raise AssertionError('timed out waiting for %s' % what)

    def wait_state(self, vgpu_uuid, states, timeout=20.0, client=None):
        client = client or self.client
        result = {}

        def check():
            result['vgpu'] = client.get('/v1/vgpus/' + vgpu_uuid).json
            return result['vgpu']['state'] in states

        self.wait_for(check, 'vGPU %s to reach %s' % (vgpu_uuid, states), timeout)
        return result['vgpu']
