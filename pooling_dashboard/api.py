"""The dashboard's only way to the pool: poolingclient, with the signed-in user's token.

Views call these functions and never build requests themselves, so tests patch one module
(Horizon's habit). Every call goes to the catalog's ``accelerator-pool`` endpoint (or
``POOLING_API_URL`` in local_settings, for a deployment whose catalog lacks it) with the
user's token, so the API applies its own policy to the user; the dashboard's policy checks
(``pooling_dashboard.policy``) only decide what to show.
"""

import dataclasses

from django.conf import settings
from horizon.utils import memoized
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint
from openstack_dashboard.api import base

from poolingclient import exceptions
from poolingclient.v1 import client as pooling_client

SERVICE_TYPE = pooling_client.SERVICE_TYPE
ApiError = exceptions.ApiError
TRANSITIONAL = ('SCHEDULED', 'PREPARING', 'RELEASING')


def endpoint(request) -> str | None:
    url = getattr(settings, 'POOLING_API_URL', None)
    if url:
        return url
    try:
        return base.url_for(request, SERVICE_TYPE)
    except Exception:
        return None


def is_enabled(request) -> bool:
    """Whether this user's catalog (or local_settings) names a pool endpoint."""
    return bool(endpoint(request))


@memoized.memoized
def _client(url, token, insecure, cacert):
    verify = False if insecure else (cacert or True)
    auth = token_endpoint.Token(url, token)
    return pooling_client.Client(ks_session.Session(auth=auth, verify=verify), endpoint=url,
                                 user_agent='pooling-dashboard')


def client(request) -> pooling_client.Client:
    return _client(endpoint(request), request.user.token.id,
                   getattr(settings, 'OPENSTACK_SSL_NO_VERIFY', False),
                   getattr(settings, 'OPENSTACK_SSL_CACERT', None))


class Resource:
    """A dict from the API with attribute access, as Horizon's tables expect."""

    def __init__(self, info: dict):
        self._info = info
        for key, value in info.items():
            if key != 'id':
                setattr(self, key, value)

    @property
    def id(self):  # Horizon's tables read .id
        info = self._info
        return info.get('uuid') or info.get('name') or info.get('project_id')

    def to_dict(self) -> dict:
        return dict(self._info)


@dataclasses.dataclass(frozen=True)
class QuotaUsage:
    """The project's vGPU quota and what it uses now (-1 = unlimited)."""

    limit_vgpus: int
    limit_compute_percent: float
    limit_memory_mb: int
    used_vgpus: int
    used_compute_percent: float
    used_memory_mb: int


# -- vGPUs (project) -----------------------------------------------------------------------------
def vgpu_list(request, all_projects=False):
    return [Resource(v) for v in client(request).list_vgpus(all_projects=all_projects)]


def vgpu_get(request, vgpu_id):
    return Resource(client(request).get_vgpu(vgpu_id))


def vgpu_create(request, **fields):
    return Resource(client(request).create_vgpu(**fields))


def vgpu_delete(request, vgpu_id):
    client(request).delete_vgpu(vgpu_id)


def profile_list(request):
    return [Resource(p) for p in client(request).list_profiles()]


def _quota(request, project_id) -> dict:
    # NOTE: poolingclient has no quota call yet; the path is the API's /v1/quotas/{project_id}.
    c = client(request)
    return c._get('/quotas/' + c._q(project_id))['quota']


def quota_usage(request, project_id=None) -> QuotaUsage:
    """The quota of ``project_id`` (the user's by default) and what its vGPUs use."""
    q = _quota(request, project_id or request.user.project_id)
    used = q['usage']
    return QuotaUsage(q['vgpus'], q['compute_percent'], q['memory_mb'],
                      used['vgpus'], used['compute_percent'], used['memory_mb'])


# -- the pool (admin) ----------------------------------------------------------------------------
def pool_list(request):
    return [Resource(p) for p in client(request).list_pools()]


def usage(request, pool=None):
    return client(request).usage(pool)


def host_list(request):
    return [Resource(h) for h in client(request).list_hosts()]


def device_list(request):
    return [Resource(d) for d in client(request).list_devices()]


def what_if(request, scale=1, cards=None, seeds=None, policy=None) -> dict:
    """The what-if report of the pool's recorded demand (GET /v1/usage/what-if, admin)."""
    # NOTE: poolingclient has no call for it yet.
    return client(request)._get('/usage/what-if', {'scale': scale, 'cards': cards or None,
                                                   'seeds': seeds, 'policy': policy})


def quota_list(request, project_ids):
    """Quotas of the given projects (the API has no listing: one GET each)."""
    return [Resource(_quota(request, p)) for p in project_ids]
