"""Handlers for /v1/vgpus/{uuid}/lease: a remote vGPU's credential (microversion 1.3,
gated by the route table).

POST issues a fresh 256-bit credential (shown once, in the lease document
``pooling run`` reads; the previous one stops working), PUT renews the live
one, GET shows the lease without credential, DELETE revokes it. The database
keeps only the credential's SHA-256; the conductor pushes it to the vGPU's
gateways before we answer, so the caller can connect at once. Another
project's vGPU is a 404 unless the caller is an admin or Nova's service user.
"""

import datetime

from oslo_log import log as logging

from pooling import exception
from pooling.gateway import lease as lease_doc
from pooling.objects import lease as lease_obj
from pooling.objects import vgpu as vgpu_obj
from pooling_api import method
from pooling_api import policy
from pooling_api.policies import leases as policies

LOG = logging.getLogger(__name__)


def _project(req):
    if policy.allowed(req, policies.ANY_PROJECT):
        return None
    return method.context(req).project_id


def _remote(vgpu) -> dict:
    remote = (vgpu.get('attachment') or {}).get('remote')
    if vgpu['state'] != vgpu_obj.ACTIVE or not remote:
        raise exception.Conflict(
            reason='vGPU %s is %s%s: only an ACTIVE remote vGPU has a lease'
            % (vgpu['uuid'], vgpu['state'], '' if remote else ' and not remote'))
    return remote


def document(vgpu, remote, expires_at, token=None) -> dict:
    if token is not None:
        doc = lease_doc.LeaseDocument(
            vgpu_uuid=vgpu['uuid'], protocol=remote['protocol'],
            endpoints=tuple(lease_doc.LeaseEndpoint(
                gateway=e['gateway'], lease_id=e['lease_id'], cards=e['cards'],
                server_name=e.get('server_name') or '') for e in remote['endpoints']),
            token=token, expires_at=datetime.datetime.strptime(
                expires_at, '%Y-%m-%dT%H:%M:%SZ'),
            ca_cert=remote['ca_cert'])
        return doc.to_dict()
    return {'version': lease_doc.VERSION, 'vgpu_uuid': vgpu['uuid'],
            'protocol': remote['protocol'],
            'endpoints': [{k: v for k, v in e.items() if v or k != 'server_name'}
                          for e in remote['endpoints']],
            'expires_at': expires_at, 'ca_cert': remote['ca_cert']}


def push(req, uuid):
    ctx = method.context(req)
    try:
        req.environ['pooling.services'].conductor.push_lease(ctx, uuid)
    except Exception as err:
        LOG.warning('Gateways of vGPU %s did not take its lease: %s', uuid, err)
        raise method.HTTPError(503, 'pooling.gateway_unavailable',
                               'The device hosts of vGPU %s did not confirm the credential '
                               '(%s); retry.' % (uuid, str(err)[:200]),
                               headers=[('Retry-After', '5')]) from None


def show_lease(req, ident):
    """GET /v1/vgpus/{uuid}/lease → 200 lease document without credential."""
    policy.authorize(req, policies.SHOW)
    vgpu = vgpu_obj.get_vgpu(method.context(req), ident, project_id=_project(req))
    remote = _remote(vgpu)
    return method.respond(req, 200, document(vgpu, remote, (vgpu['lease'] or {}).get(
        'expires_at')))


def issue_lease(req, ident):
    """POST /v1/vgpus/{uuid}/lease → 201 lease document with a new credential."""
    policy.authorize(req, policies.ISSUE)
    ctx = method.context(req)
    vgpu = vgpu_obj.get_vgpu(ctx, ident, project_id=_project(req))
    remote = _remote(vgpu)
    conf = req.environ['pooling.services'].conf
    token, lease = lease_obj.issue(ctx, vgpu['uuid'], conf.gateway.credential_ttl,
                                   project_id=_project(req))
    push(req, vgpu['uuid'])
    return method.respond(req, 201, document(vgpu, remote, lease['expires_at'], token))


def renew_lease(req, ident):
    """PUT /v1/vgpus/{uuid}/lease → 200: the live credential lives another lifetime."""
    policy.authorize(req, policies.ISSUE)
    ctx = method.context(req)
    vgpu = vgpu_obj.get_vgpu(ctx, ident, project_id=_project(req))
    remote = _remote(vgpu)
    conf = req.environ['pooling.services'].conf
    lease = lease_obj.renew(ctx, vgpu['uuid'], conf.gateway.credential_ttl,
                            project_id=_project(req))
    push(req, vgpu['uuid'])
    return method.respond(req, 200, document(vgpu, remote, lease['expires_at']))


def revoke_lease(req, ident):
    """DELETE /v1/vgpus/{uuid}/lease → 204; the gateways close its connections."""
    policy.authorize(req, policies.REVOKE)
    ctx = method.context(req)
    vgpu = vgpu_obj.get_vgpu(ctx, ident, project_id=_project(req))
    lease_obj.revoke(ctx, vgpu['uuid'], project_id=_project(req))
    if (vgpu.get('attachment') or {}).get('remote'):
        push(req, vgpu['uuid'])
    return method.respond(req, 204)
