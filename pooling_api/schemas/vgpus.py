"""JSON Schemas for vGPUs."""

from pooling.scheduler import request as request_mod
from pooling_api.schemas import common

CONSUMER = {
    'type': 'object', 'required': ['platform', 'id'],
    'properties': {
        'platform': {'type': 'string', 'enum': ['nova', 'cdi', 'container', 'kubernetes',
                                                'vmware', 'libvirt', 'baremetal', 'other']},
        'host': {'type': 'string', 'minLength': 1, 'maxLength': 255},
        'id': {'type': 'string', 'minLength': 1, 'maxLength': 255}},
    'additionalProperties': False,
}
#: the worst link level the cards of a multi-card vGPU may share, best first (1.4).
LINK = {'type': 'string', 'enum': list(request_mod.LINK_LEVELS)}
CREATE = {
    'type': 'object',
    'properties': {
        'name': {'type': 'string', 'maxLength': 255}, 'profile': common.IDENT,
        'compute_percent': common.COMPUTE_PERCENT, 'memory_mb': common.MEMORY_MB,
        'count': common.COUNT, 'models': common.MODELS, 'locality': common.LOCALITY,
        'isolation': common.ISOLATION, 'consumer': CONSUMER,
        'link': common.since('1.4', LINK)},
    'additionalProperties': False,
    # Either a profile or a shape, never both. Each branch's description names it in the
    # 400 that validation.py writes when neither or both are given.
    'oneOf': [
        {'description': "a profile ('profile')",
         'required': ['profile'],
         'not': {'anyOf': [{'required': ['compute_percent']}, {'required': ['memory_mb']},
                           {'required': ['count']}]}},
        {'description': "a shape ('compute_percent' and 'memory_mb', optionally 'count')",
         'required': ['compute_percent', 'memory_mb'], 'not': {'required': ['profile']}},
    ],
}
LIST_QUERY = {
    'type': 'object',
    'properties': {'state': {'type': 'string', 'enum': ['SCHEDULED', 'PREPARING', 'ACTIVE',
                                                        'RELEASING', 'DELETED', 'ERROR']},
                   'all_projects': common.BOOL_QUERY, 'project_id': common.IDENT,
                   'consumer_id': common.IDENT,
                   'consumer_platform': CONSUMER['properties']['platform']},
    'additionalProperties': False,
}
SLICE = {
    'type': 'object',
    'required': ['index', 'host', 'device_uuid', 'compute_percent', 'memory_mb'],
    'properties': {'index': {'type': 'integer'}, 'host': {'type': 'string'},
                   'device_uuid': {'type': 'string'}, 'compute_percent': {'type': 'number'},
                   'memory_mb': {'type': 'integer'},
                   'device_health': {'type': 'string', 'enum': ['healthy', 'unhealthy']}},
    'additionalProperties': False,
}
VGPU = {
    'type': 'object',
    'required': ['uuid', 'name', 'project_id', 'state', 'state_reason', 'compute_percent',
                 'memory_mb', 'count', 'locality', 'slices', 'attachment', 'consumer'],
    'properties': {
        'uuid': {'type': 'string'}, 'name': {'type': 'string'},
        'project_id': {'type': 'string'}, 'user_id': {'type': 'string'},
        'state': {'type': 'string'}, 'state_reason': {'type': 'string'},
        'profile': {'type': ['string', 'null']}, 'compute_percent': {'type': 'number'},
        'memory_mb': {'type': 'integer'}, 'count': {'type': 'integer'},
        'models': {'type': 'array', 'items': {'type': 'string'}},
        'locality': {'type': 'string'}, 'isolation': {'type': ['string', 'null']},
        'consumer': {'type': ['object', 'null']}, 'slices': {'type': 'array', 'items': SLICE},
        'attachment': {'type': ['object', 'null']},
        'health': {'type': 'string', 'enum': ['ok', 'degraded']},
        'lease': common.since('1.3', {'type': ['object', 'null'], 'properties': {
            'lease_id': {'type': 'string'}, 'expires_at': {'type': ['string', 'null']}},
            'additionalProperties': False}),
        'moves': common.since('1.3', {'type': 'array', 'items': {'type': 'object'}}),
        'degraded_reason': common.since('1.3', {'type': 'string'}),
        'link': common.since('1.4', {'type': ['string', 'null']}),
        'created_at': common.TIMESTAMP, 'updated_at': common.TIMESTAMP},
    'additionalProperties': False,
}
VGPUS = common.list_of('vgpus', VGPU)
