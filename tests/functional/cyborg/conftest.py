"""A real Placement (openstack-placement 16 from the e2e venv) on MariaDB, for the Cyborg tests.

Placement runs as the API benchmark starts it (bench/api_load_services.py:
gunicorn, ``noauth2``, the token ``admin`` is an admin) on a free port and a
database of its own; skipped where the e2e venv
(tests/openstack/install.sh) is not installed.
"""

import os
import pathlib

from keystoneauth1 import adapter as ks_adapter
from keystoneauth1 import session as ks_session
import pytest

from bench import api_load_services as services
from tests.functional import fixtures

VENV = pathlib.Path(os.environ.get('E2E_VENV', services.ROOT / '.e2e' / 'combo-venv'))


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
def placement(tmp_path_factory):
    if not (VENV / 'bin' / 'placement-manage').exists():
        pytest.skip('no Placement installed (tests/openstack/install.sh)')
    db = fixtures.Database('mysql')
    work = tmp_path_factory.mktemp('placement')
    procs = services.Processes(work)
    try:
        port = services.start_placement(procs, VENV, work, db.create(),
                                        workers=1, threads=4)
        yield Placement('http://127.0.0.1:%d' % port)
    finally:
        procs.stop()
        db.drop()
