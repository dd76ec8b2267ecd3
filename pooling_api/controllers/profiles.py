"""Handlers for /v1/profiles."""

from pooling.cyborg import publisher
from pooling.objects import profile as profile_obj
from pooling_api import method
from pooling_api import microversion
from pooling_api import policy
from pooling_api import validation
from pooling_api.policies import profiles as policies
from pooling_api.schemas import common
from pooling_api.schemas import profiles as schemas

_SINCE = common.fields_since(schemas.PROFILE)


def serialize(profile: dict, req=None) -> dict:
    hidden = ('compute_milli',) + tuple(
        k for k, v in _SINCE.items() if req is None or not microversion.at_least(req, v))
    out = {k: v for k, v in profile.items() if k not in hidden}
    out['compute_percent'] = profile['compute_milli'] / 10
    return out


def _published(req, profiles: list[dict]) -> list[dict]:
    """Say whether each profile is published to Cyborg (when that sync is on)."""
    conf = req.environ['pooling.services'].conf
    if not conf.cyborg.enabled:
        return profiles
    return publisher.annotate(conf, profiles)


def list_profiles(req):
    """GET /v1/profiles → 200 {"profiles": [...]}."""
    policy.authorize(req, policies.LIST)
    validation.query(req, schemas.LIST_QUERY)
    profiles = profile_obj.list_profiles(method.context(req))
    return method.respond(req, 200,
                          {'profiles': _published(req, [serialize(p, req) for p in profiles])})


def show_profile(req, ident):
    """GET /v1/profiles/{uuid or name} → 200 profile."""
    policy.authorize(req, policies.SHOW)
    profile = serialize(profile_obj.get_profile(method.context(req), ident), req)
    return method.respond(req, 200, _published(req, [profile])[0])


def create_profile(req):
    """POST /v1/profiles → 201 profile."""
    policy.authorize(req, policies.CREATE)
    body = validation.body(req, schemas.CREATE)
    count = body.get('count', 1)
    if count > 1 and body['compute_percent'] != 100:
        raise method.HTTPError(400, 'pooling.invalid',
                               'A profile of %d cards takes whole cards: compute_percent must '
                               'be 100.' % count)
    if 'link' in body:
        # validation.body refused it below microversion 1.4.
        if count < 2:
            raise method.HTTPError(400, 'pooling.invalid',
                                   'link applies to profiles of 2 or more cards; this one has '
                                   '%d.' % count)
    profile = profile_obj.create_profile(
        method.context(req), body['name'], validation.compute_milli(body['compute_percent']),
        body['memory_mb'],
        count=count, models_=body.get('models'), isolation=body.get('isolation'),
        locality=body.get('locality', 'remote-allowed'),
        description=body.get('description', ''), link=body.get('link'))
    return method.respond(req, 201, serialize(profile, req),
                          headers=[('Location', req.host_url + '/v1/profiles/' +
                                    profile['uuid'])])


def delete_profile(req, ident):
    """DELETE /v1/profiles/{uuid or name} → 204; 409 while vGPUs use it."""
    policy.authorize(req, policies.DELETE)
    profile_obj.delete_profile(method.context(req), ident)
    return method.respond(req, 204)
