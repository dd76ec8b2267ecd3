"""Handlers for /v1/quotas/{project_id}."""

import jsonschema

from pooling.objects import quota as quota_obj
from pooling_api import method
from pooling_api import policy
from pooling_api import validation
from pooling_api.policies import quotas as policies
from pooling_api.schemas import quotas as schemas


def _project(project_id: str) -> str:
    try:
        jsonschema.validate(project_id, schemas.PROJECT_ID)
    except jsonschema.ValidationError:
        raise method.HTTPError(400, 'pooling.invalid',
                               'Invalid project id %s.' % method.quote(project_id)) from None
    return project_id


def _serialize(quota: dict) -> dict:
    usage = quota['usage']
    compute = quota['compute_milli']
    return {'quota': {
        'project_id': quota['project_id'], 'vgpus': quota['vgpus'],
        'memory_mb': quota['memory_mb'], 'compute_percent': compute if compute < 0 else
        compute // 10,
        'usage': {'vgpus': usage['vgpus'], 'memory_mb': usage['memory_mb'],
                  'compute_percent': usage['compute_milli'] / 10}}}


def show_quota(req, project_id):
    """GET /v1/quotas/{project_id} → 200 {"quota": {... limits, usage}}."""
    policy.authorize(req, policies.SHOW, {'project_id': project_id})
    quota = quota_obj.get_quota(method.context(req), _project(project_id))
    return method.respond(req, 200, _serialize(quota))


def update_quota(req, project_id):
    """PUT /v1/quotas/{project_id} → 200 the new quota; -1 means unlimited."""
    policy.authorize(req, policies.UPDATE, {'project_id': project_id})
    body = validation.body(req, schemas.UPDATE)['quota']
    limits = {k: v for k, v in body.items() if k != 'compute_percent'}
    if 'compute_percent' in body:
        value = body['compute_percent']
        limits['compute_milli'] = value if value < 0 else value * 10
    ctx = method.context(req)
    quota_obj.set_quota(ctx, _project(project_id), **limits)
    return method.respond(req, 200, _serialize(quota_obj.get_quota(ctx, project_id)))


def delete_quota(req, project_id):
    """DELETE /v1/quotas/{project_id} → 204; the project is unlimited again."""
    policy.authorize(req, policies.DELETE, {'project_id': project_id})
    quota_obj.delete_quota(method.context(req), _project(project_id))
    return method.respond(req, 204)
