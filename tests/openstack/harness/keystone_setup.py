"""Create the e2e stack's Keystone projects, users, roles and catalog.

``keystone-manage bootstrap`` leaves only the admin user and the identity
endpoint. Every other service here authenticates for real, so each needs a
user in project ``service`` (roles ``admin`` and ``service``: ``service`` makes
its token count as a service token for Cyborg's ARQ bind and for Nova's
external events), and a catalog entry. The tenant is user ``demo`` in project
``demo`` (member, reader). Idempotent: run it on every ``stack.sh``.

usage: keystone_setup.py AUTH_URL ADMIN_PASSWORD SERVICE_PASSWORD
"""

import sys

from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

SERVICES = {
    # type: (name, public URL)
    "placement": ("placement", "http://127.0.0.1:8778"),
    "compute": ("nova", "http://127.0.0.1:8774/v2.1"),
    "image": ("glance", "http://127.0.0.1:9292"),
    "network": ("neutron", "http://127.0.0.1:9696"),
    "accelerator": ("cyborg", "http://127.0.0.1:6666/accelerator/v2"),
    "accelerator-pool": ("pooling", "http://127.0.0.1:6388"),
}
SERVICE_USERS = ("placement", "nova", "glance", "cyborg", "pooling")


class Keystone:
    def __init__(self, auth_url, password):
        auth = v3.Password(auth_url=auth_url, username="admin", password=password,
                           project_name="admin", user_domain_id="default",
                           project_domain_id="default")
        self.s = ks_session.Session(auth=auth)
        self.ep = {"service_type": "identity", "interface": "public"}

    def _get(self, path):
        return self.s.get(path, endpoint_filter=self.ep).json()

    def _post(self, path, body):
        return self.s.post(path, json=body, endpoint_filter=self.ep).json()

    def ensure(self, coll, key, name, body, query=None):
        """Return the id of the one ``coll`` entry named ``name``; create it."""
        found = self._get("/%s?%s" % (coll, query or "name=%s" % name))[coll]
        if found:
            return found[0]["id"]
        return self._post("/" + coll, {key: body})[key]["id"]

    def grant(self, project, user, role):
        self.s.put("/projects/%s/users/%s/roles/%s" % (project, user, role),
                   endpoint_filter=self.ep)


def main(auth_url, admin_password, service_password):
    ks = Keystone(auth_url, admin_password)
    dom = {"domain_id": "default"}
    roles = {r: ks.ensure("roles", "role", r, {"name": r})
             for r in ("admin", "member", "reader", "service")}
    service = ks.ensure("projects", "project", "service", dict(dom, name="service"))
    demo = ks.ensure("projects", "project", "demo", dict(dom, name="demo"))
    for name in SERVICE_USERS:
        uid = ks.ensure("users", "user", name, dict(dom, name=name, password=service_password,
                                                     default_project_id=service))
        for role in ("admin", "service"):
            ks.grant(service, uid, roles[role])
    uid = ks.ensure("users", "user", "demo", dict(dom, name="demo", password=service_password,
                                                  default_project_id=demo))
    for role in ("member", "reader"):
        ks.grant(demo, uid, roles[role])
    for stype, (name, url) in SERVICES.items():
        sid = ks.ensure("services", "service", name, {"name": name, "type": stype})
        have = {e["interface"] for e in ks._get("/endpoints?service_id=%s" % sid)["endpoints"]}
        for iface in ("public", "internal"):
            if iface not in have:
                ks._post("/endpoints", {"endpoint": {
                    "service_id": sid, "interface": iface, "url": url,
                    "region_id": "RegionOne"}})
    print("keystone: projects service=%s demo=%s" % (service, demo))


if __name__ == "__main__":
    main(*sys.argv[1:4])
