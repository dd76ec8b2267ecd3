"""JSON Schemas for hosts."""

from pooling_api.schemas import common

LIST_QUERY = {
    'type': 'object',
    'properties': {'pool': common.IDENT, 'fabric': common.IDENT,
                   'state': {'type': 'string', 'enum': ['up', 'down']}},
    'additionalProperties': False,
}
HOST = {
    'type': 'object',
    'required': ['uuid', 'name', 'pool', 'fabric', 'state', 'device_count'],
    'properties': {'uuid': {'type': 'string'}, 'name': {'type': 'string'},
                   'pool': {'type': 'string'}, 'fabric': {'type': ['string', 'null']},
                   'state': {'type': 'string', 'enum': ['up', 'down']},
                   'device_count': {'type': 'integer'}, 'cpu_milli': {'type': 'integer'},
                   'ram_mb': {'type': 'integer'}, 'last_heartbeat': common.TIMESTAMP,
                   'created_at': common.TIMESTAMP, 'updated_at': common.TIMESTAMP},
    'additionalProperties': False,
}
HOSTS = common.list_of('hosts', HOST)
