"""A real Placement (openstack-placement 16 from the e2e venv) on MariaDB, for the Cyborg tests.

Placement runs under gunicorn with ``noauth2`` (the token ``admin`` is an
admin) on a free port and a database of its own; skipped where the e2e venv
(tests/openstack/install.sh) is not installed.
"""

import os
import socket
import subprocess
import tempfile
import time

from keystoneauth1 import adapter as ks_adapter
from keystoneauth1 import session as ks_session
import pytest

from tests.functional import fixtures

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
VENV = os.environ.get('E2E_VENV', os.path.join(ROOT, '.e2e', 'combo-venv'))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Placement:
    """The running Placement: ``adapter`` for our client, ``call`` for the test's own looks."""

    def __init__(self, url):
        self.url = url
        self.adapter = ks_adapter.Adapter(ks_session.Session(), endpoint_override=url,
                                          additional_headers={'X-Auth-Token': 'admin'})

    def call(self, method, path, body=None, version='1.39', ok=(200, 201, 204)):
        resp = self.adapter.request(path, method, json=body, raise_exc=False,
                                    headers={'OpenStack-API-Version': 'placement ' + version})
        assert resp.status_code in ok, '%s %s -> %s %s' % (method, path, resp.status_code,
                                                            resp.text[:300])
        return resp.json() if resp.content else None


@pytest.fixture(scope='module')
def placement():
    if not os.path.exists(os.path.join(VENV, 'bin', 'placement-manage')):
        pytest.skip('no Placement installed (tests/openstack/install.sh)')
    db = fixtures.Database('mysql')
    url = db.create()
    etc = tempfile.mkdtemp()
    with open(os.path.join(etc, 'placement.conf'), 'w') as f:
        f.write('[api]\nauth_strategy = noauth2\n[placement_database]\nconnection = %s\n'
                '[oslo_policy]\nenforce_scope = false\nenforce_new_defaults = false\n' % url)
    env = dict(os.environ, OS_PLACEMENT_CONFIG_DIR=etc)
    subprocess.run([os.path.join(VENV, 'bin', 'placement-manage'), '--config-file',
                    os.path.join(etc, 'placement.conf'), 'db', 'sync'], check=True, env=env,
                   capture_output=True)
    port = _free_port()
    log = open(os.path.join(etc, 'placement.log'), 'w')
    proc = subprocess.Popen([os.path.join(VENV, 'bin', 'gunicorn'), '--bind',
                             '127.0.0.1:%d' % port, '--workers', '1', '--threads', '4',
                             'placement.wsgi.api:application'], env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        service = Placement('http://127.0.0.1:%d' % port)
        deadline = time.monotonic() + 60
        while True:
            try:
                if service.adapter.get('/', raise_exc=False).status_code == 200:
                    break
            except Exception:  # not listening yet
                pass
            assert proc.poll() is None and time.monotonic() < deadline, (
                'Placement did not start; see %s' % log.name)
            time.sleep(0.2)
        yield service
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
        db.drop()
