"""JSON Schemas for profiles."""

from pooling_api.schemas import common
from pooling_api.schemas import vgpus

CREATE = {
    'type': 'object', 'required': ['name', 'compute_percent', 'memory_mb'],
    'properties': {'name': common.NAME, 'compute_percent': common.COMPUTE_PERCENT,
                   'memory_mb': common.MEMORY_MB, 'count': common.COUNT,
                   'models': common.MODELS, 'isolation': common.ISOLATION,
                   'locality': common.LOCALITY, 'description': common.DESCRIPTION,
                   'link': common.since('1.4', vgpus.LINK)},
    'additionalProperties': False,
}
LIST_QUERY = common.no_query()
PROFILE = {
    'type': 'object',
    'required': ['uuid', 'name', 'compute_percent', 'memory_mb', 'count', 'models',
                 'isolation', 'locality'],
    'properties': {'uuid': {'type': 'string'}, 'name': {'type': 'string'},
                   'compute_percent': {'type': 'number'}, 'memory_mb': {'type': 'integer'},
                   'count': {'type': 'integer'},
                   'models': {'type': 'array', 'items': {'type': 'string'}},
                   'isolation': {'type': ['string', 'null']}, 'locality': {'type': 'string'},
                   'description': {'type': 'string'}, 'created_at': common.TIMESTAMP,
                   'updated_at': common.TIMESTAMP,
                   'link': common.since('1.4', {'type': ['string', 'null']}),
                   # Present when [cyborg] enabled and Cyborg answers.
                   'published': {'type': 'boolean'}, 'device_profile': {'type': 'string'}},
    'additionalProperties': False,
}
PROFILES = common.list_of('profiles', PROFILE)
