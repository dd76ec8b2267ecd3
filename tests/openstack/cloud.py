"""Talk to the e2e stack as its users do: the ``openstack`` CLI and keystoneauth.

The stack (``stack.sh``) writes ``$E2E_DIR/clouds.yaml`` with two clouds,
``e2e-admin`` and ``e2e-demo``; every token comes from the stack's Keystone.
The CLI runs from the stack's own venv (upstream clients never enter .venv).
"""

import json
import os
import socket
import subprocess
import time

from keystoneauth1 import adapter
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
E2E_DIR = os.path.abspath(os.environ.get("E2E_DIR", os.path.join(ROOT, ".e2e")))
PASSWORD = os.environ.get("E2E_PASSWORD", "secret")
HOST = os.environ.get("E2E_HOST", "e2e-host-1")
VERSIONS = {
    "placement": "placement 1.39",
    "accelerator": "accelerator 2.3",
    "compute": "compute 2.95",
    "accelerator-pool": "accelerator-pool latest",
}


def stack_is_up():
    """True when the stack's Keystone answers on 127.0.0.1:5000."""
    if not os.path.exists(os.path.join(E2E_DIR, "clouds.yaml")):
        return False
    try:
        socket.create_connection(("127.0.0.1", 5000), timeout=1).close()
    except OSError:
        return False
    return True


class Cloud:
    """One Keystone user of the stack: REST adapters per service and the CLI."""

    def __init__(self, user, project):
        self.name = "e2e-%s" % user
        auth = v3.Password(auth_url="http://127.0.0.1:5000/v3", username=user,
                           password=PASSWORD, project_name=project,
                           user_domain_id="default", project_domain_id="default")
        self.session = ks_session.Session(auth=auth)
        self.project_id = self.session.get_project_id()

    def api(self, service_type):
        hdr = {"OpenStack-API-Version": VERSIONS[service_type]}
        if service_type == "compute":
            hdr["X-OpenStack-Nova-API-Version"] = "2.95"
        return adapter.Adapter(self.session, service_type=service_type, interface="public",
                               region_name="RegionOne", additional_headers=hdr,
                               raise_exc=False)

    def get(self, service_type, path):
        resp = self.api(service_type).get(path)
        assert resp.status_code == 200, "%s %s -> %s %s" % (
            service_type, path, resp.status_code, resp.text[:300])
        return resp.json()

    def cli(self, *args, check=True, timeout=300):
        """Run ``openstack --os-cloud <me> ARGS``; JSON output parsed when asked."""
        env = dict(os.environ, OS_CLIENT_CONFIG_FILE=os.path.join(E2E_DIR, "clouds.yaml"),
                   PYTHONWARNINGS="ignore")
        cmd = [os.path.join(E2E_DIR, "combo-venv", "bin", "openstack"), "--os-cloud", self.name,
               "--os-compute-api-version", "2.95", *args]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode:
            raise AssertionError("%s: rc %s\n%s" % (" ".join(args), proc.returncode,
                                                     proc.stderr[-2000:]))
        if "-f" in args and "json" in args and proc.returncode == 0:
            return json.loads(proc.stdout)
        return proc


def wait_for(what, fn, timeout=60, interval=0.5):
    """Poll ``fn`` until it returns something truthy; fail with ``what``."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %ss waiting for %s (last: %r)" % (timeout, what, last))


def rp_by_name(admin, name):
    rps = admin.get("placement", "/resource_providers?name=%s" % name)["resource_providers"]
    return rps[0] if rps else None


def usages(admin, rp_uuid):
    return admin.get("placement", "/resource_providers/%s/usages" % rp_uuid)["usages"]


def arqs(admin, instance):
    return admin.get("accelerator", "/accelerator_requests?instance=%s" % instance)["arqs"]
