"""The OpenAPI 3.1 document of the whole API, built from the route table and schemas.

``python -m pooling_api.openapi > pooling_api/openapi.yaml`` regenerates the
committed copy; a unit test fails when they differ, and functional tests check
real responses against it.
"""

import sys

import yaml

from pooling_api import microversion
from pooling_api.controllers import root
from pooling_api.schemas import capacity
from pooling_api.schemas import common
from pooling_api.schemas import devices
from pooling_api.schemas import hosts
from pooling_api.schemas import leases
from pooling_api.schemas import pools
from pooling_api.schemas import profiles
from pooling_api.schemas import quotas
from pooling_api.schemas import slots
from pooling_api.schemas import usage
from pooling_api.schemas import vendordata
from pooling_api.schemas import vgpus
from pooling_api.schemas import whatif

ERROR = {
    'type': 'object', 'required': ['errors'],
    'properties': {'errors': {'type': 'array', 'items': {
        'type': 'object', 'required': ['status', 'code', 'title', 'detail'],
        'properties': {'status': {'type': 'integer'}, 'code': {'type': 'string'},
                       'title': {'type': 'string'}, 'detail': {'type': 'string'},
                       'request_id': {'type': ['string', 'null']}}}}},
}
VERSION = {'type': 'object', 'required': ['id', 'status', 'min_version', 'max_version'],
           'properties': {'id': {'type': 'string'}, 'status': {'type': 'string'},
                          'min_version': {'type': 'string'},
                          'max_version': {'type': 'string'},
                          'links': {'type': 'array', 'items': {'type': 'object'}}}}

IDENT = {'type': 'string', 'minLength': 1, 'maxLength': 255}
# A response that is not JSON: the Prometheus text exposition of /metrics.
PROMETHEUS_TEXT = {'type': 'string', 'contentMediaType': 'text/plain; version=0.0.4'}
# The microversion that added an operation or a schema property (absent: 1.0).
SINCE = common.SINCE
# Path parameters the service validates more strictly than IDENT.
PATH_PARAMS = {'project_id': quotas.PROJECT_ID}

# (path, method) → (query schema, body schema, success status, response schema)
OPERATIONS = {
    ('/', 'GET'): (None, None, 200, {'type': 'object', 'required': ['versions'], 'properties': {
        'versions': {'type': 'array', 'items': VERSION}}}),
    ('/v1', 'GET'): (None, None, 200, {'type': 'object', 'required': ['version'],
                                       'properties': {'version': VERSION,
                                                      'resources': {'type': 'array'}}}),
    ('/v1/pools', 'GET'): (pools.LIST_QUERY, None, 200, pools.POOLS),
    ('/v1/pools', 'POST'): (None, pools.CREATE, 201, pools.POOL),
    ('/v1/pools/{ident}', 'GET'): (None, None, 200, pools.POOL),
    ('/v1/pools/{ident}', 'DELETE'): (None, None, 204, None),
    ('/v1/hosts', 'GET'): (hosts.LIST_QUERY, None, 200, hosts.HOSTS),
    ('/v1/hosts/{ident}', 'GET'): (None, None, 200, hosts.HOST),
    ('/v1/devices', 'GET'): (devices.LIST_QUERY, None, 200, devices.DEVICES),
    ('/v1/devices/{ident}', 'GET'): (None, None, 200, devices.DEVICE),
    ('/v1/profiles', 'GET'): (profiles.LIST_QUERY, None, 200, profiles.PROFILES),
    ('/v1/profiles', 'POST'): (None, profiles.CREATE, 201, profiles.PROFILE),
    ('/v1/profiles/{ident}', 'GET'): (None, None, 200, profiles.PROFILE),
    ('/v1/profiles/{ident}', 'DELETE'): (None, None, 204, None),
    ('/v1/vgpus', 'GET'): (vgpus.LIST_QUERY, None, 200, vgpus.VGPUS),
    ('/v1/vgpus', 'POST'): (None, vgpus.CREATE, 201, vgpus.VGPU),
    ('/v1/vgpus/{ident}', 'GET'): (None, None, 200, vgpus.VGPU),
    ('/v1/vgpus/{ident}', 'DELETE'): (None, None, 202, None),
    ('/v1/vgpus/{ident}/lease', 'GET'): (None, None, 200, leases.LEASE),
    ('/v1/vgpus/{ident}/lease', 'POST'): (None, None, 201, leases.LEASE),
    ('/v1/vgpus/{ident}/lease', 'PUT'): (None, None, 200, leases.LEASE),
    ('/v1/vgpus/{ident}/lease', 'DELETE'): (None, None, 204, None),
    ('/v1/usage', 'GET'): (usage.QUERY, None, 200, usage.USAGE),
    ('/v1/usage/what-if', 'GET'): (whatif.QUERY, None, 200, whatif.REPORT),
    ('/v1/capacity', 'GET'): (capacity.QUERY, None, 200, capacity.CAPACITY),
    ('/v1/slots', 'GET'): (slots.LIST_QUERY, None, 200, slots.SLOTS),
    ('/v1/vendordata', 'POST'): (None, vendordata.REQUEST, 200, vendordata.RESPONSE),
    ('/v1/quotas/{project_id}', 'GET'): (None, None, 200, quotas.QUOTA),
    ('/v1/quotas/{project_id}', 'PUT'): (None, quotas.UPDATE, 200, quotas.QUOTA),
    ('/v1/quotas/{project_id}', 'DELETE'): (None, None, 204, None),
    ('/metrics', 'GET'): (None, None, 200, PROMETHEUS_TEXT),
}



# Titles where the handler's name does not make one.
SUMMARIES = {
    'root': 'List API versions', 'v1': 'Show API version 1',
    'show_what_if': 'Plan what if', 'list_slots': "List a compute host's slots",
    'vendordata': "Nova vendordata: an instance's vGPUs",
    'show_metrics': 'Prometheus metrics',
}


def _summary(handler) -> str:
    name = handler.__name__
    return SUMMARIES.get(name) or name.replace('_', ' ').capitalize().replace('vgpu', 'vGPU')


def _description(handler) -> str:
    """The handler's docstring, one paragraph: what it answers and its special cases."""
    return ' '.join((handler.__doc__ or '').split())


def _strip(schema):
    """OpenAPI 3.1 is JSON Schema 2020-12, minus nothing we use; copy defensively."""
    return yaml.safe_load(yaml.safe_dump(schema))


def _operation(path, method, handler, query, body, status, response):
    op = {'summary': _summary(handler), 'description': _description(handler),
          'operationId': '%s_%s' % (method.lower(), path.strip('/').replace('/', '_')
                                    .replace('{', '').replace('}', '') or 'root'),
          'parameters': [], 'responses': {}}
    for name in [p.strip('{}') for p in path.split('/') if p.startswith('{')]:
        op['parameters'].append({'name': name, 'in': 'path', 'required': True,
                                 'schema': _strip(PATH_PARAMS.get(name, IDENT))})
    required = set((query or {}).get('required') or ())
    for name, prop in ((query or {}).get('properties') or {}).items():
        op['parameters'].append({'name': name, 'in': 'query', 'required': name in required,
                                 'schema': _strip(prop)})
    if (path, method) in root.MIN_VERSIONS:
        # Below it the route answers 404; the API reference shows "New in version".
        op[SINCE] = root.MIN_VERSIONS[(path, method)]
    if path not in root.PUBLIC:
        op['parameters'].append({'name': microversion.HEADER, 'in': 'header',
                                 'required': False, 'schema': {'type': 'string'}})
    if body is not None:
        op['requestBody'] = {'required': True, 'content': {
            'application/json': {'schema': _strip(body)}}}
    ok = {'description': 'Success'}
    if response is PROMETHEUS_TEXT:
        ok['content'] = {'text/plain': {'schema': _strip(response)}}
    elif response is not None:
        ok['content'] = {'application/json': {'schema': _strip(response)}}
    op['responses'][str(status)] = ok
    for code, text in ((400, 'Bad request'), (403, 'Forbidden'), (404, 'Not found'),
                       (405, 'Method not allowed'), (406, 'Unsupported microversion'),
                       (409, 'Conflict'), (413, 'Request body too large'),
                       (415, 'Unsupported media type'),
                       (503, 'Database unreachable; retry after Retry-After seconds')):
        op['responses'][str(code)] = {'description': text, 'content': {
            'application/json': {'schema': ERROR}}}
    return op


def document() -> dict:
    paths = {}
    for path, methods in root.ROUTES.items():
        for method, handler in methods.items():
            query, body, status, response = OPERATIONS[(path, method)]
            paths.setdefault(path, {})[method.lower()] = _operation(
                path, method, handler, query, body, status, response)
    return {'openapi': '3.1.0',
            'info': {'title': 'pooling API', 'version': microversion.max_version_string(),
                     'x-min-version': microversion.VERSIONS[0],
                     'description': 'OpenStack-native accelerator pooling.'},
            'servers': [{'url': 'http://127.0.0.1:6388'}],
            'paths': paths}


def render() -> str:
    return yaml.safe_dump(document(), sort_keys=True, width=100)


if __name__ == '__main__':
    sys.stdout.write(render())
