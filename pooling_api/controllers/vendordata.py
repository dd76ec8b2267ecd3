"""POST /v1/vendordata: Nova's DynamicJSON vendordata target.

Nova's metadata service (or nova-compute, for a config drive) POSTs the
instance's ids with its own service token; we answer that instance's vGPUs and
their attachments (for a remote vGPU: the gateways, and a lease with the credential the
guest connects with). Only a caller with the service or admin role gets an
answer, and only vGPUs whose consumer is that Nova instance *and* whose project
is the instance's project: knowing an instance id is not enough.

For each ACTIVE remote vGPU the answer also holds a lease document with a
fresh credential under ``leases`` (what ``pooling run --metadata`` reads from
``vendor_data2.json``); the guest's cloud-init reads vendordata at boot and
keeps it. A lease whose gateways did not confirm the credential is left out
(logged), the vGPU itself is still listed.
"""

from oslo_log import log as logging

from pooling.objects import lease as lease_obj
from pooling.objects import vgpu as vgpu_obj
from pooling_api import method
from pooling_api import policy
from pooling_api import validation
from pooling_api.controllers import leases as lease_api
from pooling_api.policies import vendordata as policies
from pooling_api.schemas import vendordata as schemas

LOG = logging.getLogger(__name__)

_SHOWN = ('uuid', 'profile', 'state', 'memory_mb', 'count', 'locality', 'isolation',
          'attachment')


def _view(vgpu: dict) -> dict:
    out = {k: vgpu.get(k) for k in _SHOWN}
    out['compute_percent'] = vgpu['compute_milli'] / 10
    out['slices'] = [{'index': s['index'], 'host': s['host'], 'device_uuid': s['device_uuid'],
                      'compute_percent': s['compute_milli'] / 10, 'memory_mb': s['memory_mb']}
                     for s in vgpu['slices']]
    return out


def vendordata(req):
    """POST /v1/vendordata {instance-id, project-id, ...} → 200 {"vgpus": [...]}."""
    policy.authorize(req, policies.SHOW)
    body = validation.body(req, schemas.REQUEST)
    found = vgpu_obj.list_vgpus(method.context(req), project_id=body['project-id'],
                                consumer=('nova', body['instance-id']))
    live = [v for v in found if v['state'] not in (vgpu_obj.RELEASING, vgpu_obj.DELETED)]
    leases = []
    ctx = method.context(req)
    ttl = req.environ['pooling.services'].conf.gateway.credential_ttl
    for vgpu in live:
        remote = (vgpu.get('attachment') or {}).get('remote')
        if vgpu['state'] != vgpu_obj.ACTIVE or not remote:
            continue
        try:
            token, lease = lease_obj.issue(ctx, vgpu['uuid'], ttl)
            lease_api.push(req, vgpu['uuid'])
        except Exception as err:
            LOG.warning('No lease for vGPU %s in vendordata: %s', vgpu['uuid'], err)
            continue
        leases.append(lease_api.document(vgpu, remote, lease['expires_at'], token))
    return method.respond(req, 200, {'vgpus': [_view(v) for v in live], 'leases': leases})
