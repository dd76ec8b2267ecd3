"""Handlers for /v1/vgpus: claim, list, show and release vGPUs."""

from pooling import exception
from pooling.objects import device as device_obj
from pooling.objects import host as host_obj
from pooling.objects import profile as profile_obj
from pooling.objects import vgpu as vgpu_obj
from pooling_api import method
from pooling_api import microversion
from pooling_api import policy
from pooling_api import validation
from pooling_api.policies import vgpus as policies
from pooling_api.schemas import common
from pooling_api.schemas import vgpus as schemas

# NOTE: the credential's hash never leaves the service, nor who drives the vGPU. The ARQ of
# a vGPU Nova made is the pool's link to Cyborg; its consumer already names the instance.
_INTERNAL = ('compute_milli', 'holds_capacity', 'lease_token_sha256', 'conductor',
             'cyborg_arq')
# Fields newer than 1.0 (lease, moves, degraded_reason: 1.3; link: 1.4), from the schema.
_SINCE = common.fields_since(schemas.VGPU)


def serialize(vgpu: dict, req=None) -> dict:
    hidden = _INTERNAL + tuple(
        k for k, v in _SINCE.items() if req is None or not microversion.at_least(req, v))
    out = {k: v for k, v in vgpu.items() if k not in hidden}
    out['compute_percent'] = vgpu['compute_milli'] / 10
    out['slices'] = [{**{k: v for k, v in s.items() if k != 'compute_milli'},
                      'compute_percent': s['compute_milli'] / 10} for s in vgpu['slices']]
    degraded = (any(s.get('device_health') == 'unhealthy' for s in vgpu['slices'])
                or bool(vgpu.get('degraded_reason')))
    out['health'] = 'degraded' if degraded else 'ok'
    return out


def _owner_filter(req):
    """None for callers who may see every project, else the caller's project."""
    if policy.allowed(req, policies.LIST_ALL):
        return None
    return method.context(req).project_id


def _spec(req, body: dict) -> dict:
    """The validated request in internal units, resolved against profiles and hosts."""
    ctx = method.context(req)
    spec = {'name': body.get('name', ''), 'project_id': ctx.project_id,
            'user_id': ctx.user_id, 'consumer': body.get('consumer')}
    if 'profile' in body:
        try:
            profile = profile_obj.get_profile(ctx, body['profile'])
        except exception.NotFound:
            raise method.HTTPError(400, 'pooling.invalid',
                                   'Unknown profile %s.' % method.quote(body['profile'])) from None
        spec.update(profile=profile['name'], compute_milli=profile['compute_milli'],
                    memory_mb=profile['memory_mb'], count=profile['count'],
                    models=body.get('models', profile['models']),
                    locality=body.get('locality', profile['locality']),
                    isolation=body.get('isolation', profile['isolation']),
                    link=profile.get('link'))
    else:
        spec.update(compute_milli=validation.compute_milli(body['compute_percent']),
                    memory_mb=body['memory_mb'], count=body.get('count', 1),
                    models=body.get('models', []),
                    locality=body.get('locality', 'remote-allowed'),
                    isolation=body.get('isolation'))
    if 'link' in body:
        # validation.body refused it below microversion 1.4.
        if spec['count'] < 2:
            raise method.HTTPError(400, 'pooling.invalid',
                                   'link applies to vGPUs of 2 or more cards; this one has %d.'
                                   % spec['count'])
        spec['link'] = body['link']
    if not spec.get('link'):
        spec.pop('link', None)
    if spec['count'] > 1 and spec['compute_milli'] != 1000:
        raise method.HTTPError(400, 'pooling.invalid',
                               'A vGPU of %d cards takes whole cards: compute_percent must be '
                               '100.' % spec['count'])
    if spec['models']:
        known = device_obj.list_models(ctx)
        unknown = [m for m in spec['models'] if m not in known]
        if unknown:
            raise method.HTTPError(
                400, 'pooling.invalid', 'Unknown model %s: the pool has %s.' % (
                    ', '.join(method.quote(m) for m in unknown),
                    ', '.join(known) if known else 'no devices yet'))
    consumer_host = (spec['consumer'] or {}).get('host')
    if spec['locality'] != 'remote-allowed' and not consumer_host:
        raise method.HTTPError(400, 'pooling.invalid',
                               'Locality %r needs consumer.host: the host the vGPU is used on.'
                               % spec['locality'])
    if consumer_host:
        try:
            host_obj.get_host(ctx, consumer_host)
        except exception.NotFound:
            raise method.HTTPError(400, 'pooling.invalid', 'Unknown consumer host %s.'
                                   % method.quote(consumer_host)) from None
    return spec


def list_vgpus(req):
    """GET /v1/vgpus?state=&all_projects=&project_id=&consumer_id=&consumer_platform=
    → 200 {"vgpus": [...]}; ``consumer_platform`` alone lists that platform's vGPUs, and with
    ``consumer_id`` defaults to ``nova``."""
    policy.authorize(req, policies.LIST)
    query = validation.query(req, schemas.LIST_QUERY)
    ctx = method.context(req)
    project_id = ctx.project_id
    if common.as_bool(query.get('all_projects')) or query.get('project_id'):
        policy.authorize(req, policies.LIST_ALL)
        project_id = query.get('project_id')
    consumer = None
    if query.get('consumer_id') or query.get('consumer_platform'):
        consumer = (query.get('consumer_platform', 'nova'), query.get('consumer_id'))
    vgpus = vgpu_obj.list_vgpus(ctx, project_id=project_id, state=query.get('state'),
                                consumer=consumer,
                                limit=req.environ['pooling.services'].conf.api.max_limit)
    return method.respond(req, 200, {'vgpus': [serialize(v, req) for v in vgpus]})


def show_vgpu(req, ident):
    """GET /v1/vgpus/{uuid or name} → 200 vgpu (404 for another project's); a name is
    one of the caller's project's live vGPUs (409 when several share it)."""
    policy.authorize(req, policies.SHOW)
    ctx = method.context(req)
    uuid = vgpu_obj.resolve(ctx, ident, ctx.project_id)
    vgpu = vgpu_obj.get_vgpu(ctx, uuid, project_id=_owner_filter(req))
    return method.respond(req, 200, serialize(vgpu, req))


def create_vgpu(req):
    """POST /v1/vgpus → 201 vgpu in SCHEDULED; 409 when nothing fits or quota is spent."""
    policy.authorize(req, policies.CREATE)
    body = validation.body(req, schemas.CREATE)
    spec = _spec(req, body)
    services = req.environ['pooling.services']
    ctx = method.context(req)
    vgpu = services.claims.claim(ctx, spec)
    services.conductor.prepare_vgpu(ctx, vgpu['uuid'])
    return method.respond(req, 201, serialize(vgpu, req),
                          headers=[('Location', req.host_url + '/v1/vgpus/' + vgpu['uuid'])])


def delete_vgpu(req, ident):
    """DELETE /v1/vgpus/{uuid or name} → 202; the vGPU goes RELEASING, then DELETED."""
    policy.authorize(req, policies.DELETE)
    ctx = method.context(req)
    uuid = vgpu_obj.request_delete(ctx, vgpu_obj.resolve(ctx, ident, ctx.project_id),
                                   project_id=_owner_filter(req))
    req.environ['pooling.services'].conductor.release_vgpu(ctx, uuid)
    return method.respond(req, 202)
