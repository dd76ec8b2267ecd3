"""JSON Schemas for usage."""

from pooling_api.schemas import common

QUERY = {'type': 'object', 'properties': {'pool': common.IDENT}, 'additionalProperties': False}
BY_PLATFORM = {
    'type': 'array',
    'items': {'type': 'object', 'required': ['platform', 'vgpus', 'compute_percent', 'memory_mb'],
              'properties': {'platform': {'type': 'string'}, 'vgpus': {'type': 'integer'},
                             'compute_percent': {'type': 'number'},
                             'memory_mb': {'type': 'integer'}},
              'additionalProperties': False},
}
ENTRY = {
    'type': 'object',
    'required': ['pool', 'model', 'devices', 'capacity', 'allocated', 'free', 'stranded'],
    'properties': {'pool': {'type': 'string'}, 'model': {'type': 'string'},
                   'devices': {'type': 'integer'}, 'capacity': common.CAPACITY,
                   'allocated': common.CAPACITY, 'free': common.CAPACITY,
                   'stranded': common.CAPACITY,
                   'common_shapes': {'type': 'array', 'items': {'type': 'object'}},
                   'by_platform': common.since('1.2', BY_PLATFORM)},
    'additionalProperties': False,
}
USAGE = common.list_of('usage', ENTRY)
