"""A thin HTTP client for the pool's v1 REST API, shared by every CLI command.

It speaks through a keystoneauth1 session so the same code works with Keystone
tokens and with ``--os-auth-type none``; it pins the microversion on every
request and turns API-SIG error bodies into :mod:`poolingclient.exceptions`.
"""


from typing import Any
from urllib import parse

from keystoneauth1 import adapter
from oslo_utils import uuidutils

from poolingclient import exceptions

SERVICE_TYPE = "accelerator-pool"
DEFAULT_MICROVERSION = "1.0"
# The lease resource exists from 1.3 on.
LEASE_MICROVERSION = "1.3"
# A vGPU's demanded link level (``link``) from 1.4 on.
LINK_MICROVERSION = "1.4"

def is_uuid_like(value: str) -> bool:
    """True when ``value`` is written like a UUID (oslo.utils' rules: dashes optional)."""
    return uuidutils.is_uuid_like(value or "")


def _root(endpoint: str | None) -> str | None:
    """The service root: catalogs may list it with or without ``/v1``."""
    if not endpoint:
        return endpoint
    base = endpoint.rstrip("/")
    if base.endswith("/v1"):
        base = base[: -len("/v1")]
    return base


class Client:
    """Calls to ``/v1``; each method returns the decoded JSON resource(s)."""

    def __init__(
        self,
        session,
        endpoint: str | None = None,
        microversion: str = DEFAULT_MICROVERSION,
        interface: str | None = None,
        region_name: str | None = None,
        user_agent: str = "python-poolingclient",
    ) -> None:
        self.microversion = microversion
        self._adapter = adapter.Adapter(
            session,
            service_type=SERVICE_TYPE,
            endpoint_override=_root(endpoint),
            interface=interface,
            region_name=region_name,
            default_microversion=microversion,
            user_agent=user_agent,
            raise_exc=False,
        )

    # -- plumbing -------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs) -> Any:
        headers = kwargs.pop("headers", {})
        headers.setdefault("Accept", "application/json")
        resp = self._adapter.request("/v1" + path, method, headers=headers, **kwargs)
        if resp.status_code >= 400:
            raise exceptions.from_response(resp)
        if resp.status_code == 204 or not resp.content:
            return None
        try:
            return resp.json()
        except ValueError as exc:
            raise exceptions.ClientError(
                f"{method} {path}: the service answered with non-JSON content"
            ) from exc

    def _get(self, path: str, params: dict | None = None) -> Any:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        if query:
            path = path + "?" + parse.urlencode(query, doseq=True)
        return self._request("GET", path)

    def _post(self, path: str, body: dict) -> Any:
        return self._request("POST", path, json=body)

    def _delete(self, path: str) -> None:
        self._request("DELETE", path)

    @staticmethod
    def _q(value: str) -> str:
        return parse.quote(str(value), safe="")

    # -- pools ----------------------------------------------------------

    def list_pools(self) -> list[dict]:
        return self._get("/pools")["pools"]

    def get_pool(self, pool: str) -> dict:
        return self._get("/pools/" + self._q(pool))

    def create_pool(self, name: str, description: str | None = None) -> dict:
        body = {"name": name}
        if description is not None:
            body["description"] = description
        return self._post("/pools", body)

    def delete_pool(self, pool: str) -> None:
        self._delete("/pools/" + self._q(pool))

    # -- hosts and devices ----------------------------------------------

    def list_hosts(self, **filters) -> list[dict]:
        return self._get("/hosts", filters)["hosts"]

    def get_host(self, host: str) -> dict:
        return self._get("/hosts/" + self._q(host))

    def list_devices(self, **filters) -> list[dict]:
        return self._get("/devices", filters)["devices"]

    def get_device(self, device: str) -> dict:
        return self._get("/devices/" + self._q(device))

    def usage(self, pool: str | None = None, by_platform: bool = False) -> list[dict]:
        """Usage per pool and model; ``by_platform`` asks microversion 1.2 for the split."""
        if not by_platform:
            return self._get("/usage", {"pool": pool})["usage"]
        path = "/usage" + ("?" + parse.urlencode({"pool": pool}) if pool else "")
        return self._request(
            "GET", path, headers={"OpenStack-API-Version": "accelerator-pool 1.2"}
        )["usage"]

    def capacity(self, pool: str | None = None) -> dict:
        """Free capacity per model and per profile (microversion 1.1; any reader)."""
        path = "/capacity" + ("?" + parse.urlencode({"pool": pool}) if pool else "")
        return self._request("GET", path, microversion="1.1")["capacity"]

    # -- profiles -------------------------------------------------------

    def list_profiles(self) -> list[dict]:
        return self._get("/profiles")["profiles"]

    def get_profile(self, profile: str) -> dict:
        return self._get("/profiles/" + self._q(profile))

    def create_profile(self, **fields) -> dict:
        body = {k: v for k, v in fields.items() if v is not None}
        if "link" in body:
            return self._request("POST", "/profiles", json=body, microversion=LINK_MICROVERSION)
        return self._post("/profiles", body)

    def delete_profile(self, profile: str) -> None:
        self._delete("/profiles/" + self._q(profile))

    # -- vGPUs ----------------------------------------------------------

    def list_vgpus(self, **filters) -> list[dict]:
        if filters.get("all_projects"):
            filters["all_projects"] = "true"
        else:
            filters.pop("all_projects", None)
        return self._get("/vgpus", filters)["vgpus"]

    def get_vgpu(self, vgpu: str) -> dict:
        return self._get("/vgpus/" + self._q(vgpu))

    def create_vgpu(self, **fields) -> dict:
        body = {k: v for k, v in fields.items() if v is not None}
        if "link" in body:
            return self._request("POST", "/vgpus", json=body, microversion=LINK_MICROVERSION)
        return self._post("/vgpus", body)

    def delete_vgpu(self, vgpu: str) -> None:
        self._delete("/vgpus/" + self._q(vgpu))

    # -- quotas ---------------------------------------------------------

    def get_quota(self, project_id: str) -> dict:
        return self._get("/quotas/" + self._q(project_id))["quota"]

    def set_quota(self, project_id: str, **limits) -> dict:
        body = {"quota": {k: v for k, v in limits.items() if v is not None}}
        return self._request("PUT", "/quotas/" + self._q(project_id), json=body)["quota"]

    def delete_quota(self, project_id: str) -> None:
        self._delete("/quotas/" + self._q(project_id))

    # -- leases of remote vGPUs (microversion 1.3) ----------------------

    def _lease(self, method: str, vgpu: str) -> Any:
        return self._request(method, "/vgpus/%s/lease" % self._q(vgpu),
                             microversion=LEASE_MICROVERSION)

    def get_lease(self, vgpu: str) -> dict:
        """The lease document without credential."""
        return self._lease("GET", vgpu)

    def issue_lease(self, vgpu: str) -> dict:
        """A fresh credential (the previous one stops working), in the lease document."""
        return self._lease("POST", vgpu)

    def renew_lease(self, vgpu: str) -> dict:
        return self._lease("PUT", vgpu)

    def revoke_lease(self, vgpu: str) -> None:
        self._lease("DELETE", vgpu)

    def find_vgpu(self, name_or_id: str, all_projects: bool = False) -> dict:
        """The vGPU with this ID, or the only one with this name.

        The API resolves a name in the caller's own project (from this
        release); the list is asked here so that ``all_projects`` and older
        servers, which take UUIDs only, work alike.
        """
        if is_uuid_like(name_or_id):
            try:
                return self.get_vgpu(name_or_id)
            except exceptions.NotFound:
                pass
        matches = [
            v for v in self.list_vgpus(all_projects=all_projects) if v.get("name") == name_or_id
        ]
        if not matches:
            raise exceptions.NotFound(404, f"No vGPU with a name or ID of '{name_or_id}' exists.")
        if len(matches) > 1:
            raise exceptions.NoUniqueMatch(
                f"More than one vGPU exists with the name '{name_or_id}'; use its ID."
            )
        return matches[0]

    def find_device(self, name_or_id: str) -> dict:
        """A device by UUID, or by PCI address when that is unique."""
        if is_uuid_like(name_or_id):
            return self.get_device(name_or_id)
        matches = [d for d in self.list_devices() if d.get("pci_address") == name_or_id]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise exceptions.NotFound(
                404, f"No device with an ID or PCI address of '{name_or_id}' exists."
            )
        raise exceptions.NoUniqueMatch(
            f"More than one device has PCI address '{name_or_id}'; use its ID."
        )
