"""JSON Schemas for pools."""

from pooling_api.schemas import common

CREATE = {
    'type': 'object', 'required': ['name'],
    'properties': {'name': common.NAME, 'description': common.DESCRIPTION},
    'additionalProperties': False,
}
LIST_QUERY = common.no_query()
POOL = {
    'type': 'object',
    'required': ['uuid', 'name', 'description', 'host_count', 'device_count'],
    'properties': {'uuid': {'type': 'string'}, 'name': {'type': 'string'},
                   'description': {'type': 'string'}, 'host_count': {'type': 'integer'},
                   'device_count': {'type': 'integer'}, 'created_at': common.TIMESTAMP,
                   'updated_at': common.TIMESTAMP},
    'additionalProperties': False,
}
POOLS = common.list_of('pools', POOL)
