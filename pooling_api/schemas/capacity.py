"""JSON Schemas for /v1/capacity."""

from pooling_api.schemas import common

QUERY = {'type': 'object', 'properties': {'pool': common.IDENT}, 'additionalProperties': False}
MODEL = {
    'type': 'object',
    'required': ['pool', 'vendor', 'model', 'free', 'largest_free', 'whole_free_cards'],
    'properties': {'pool': {'type': 'string'}, 'vendor': {'type': 'string'},
                   'model': {'type': 'string'}, 'free': common.CAPACITY,
                   'largest_free': common.CAPACITY,
                   'whole_free_cards': {'type': 'integer', 'minimum': 0}},
    'additionalProperties': False,
}
PROFILE = {
    'type': 'object', 'required': ['name', 'available'],
    'properties': {'name': {'type': 'string'},
                   'available': {'type': 'integer', 'minimum': 0}},
    'additionalProperties': False,
}
CAPACITY = {
    'type': 'object', 'required': ['capacity'],
    'properties': {'capacity': {
        'type': 'object', 'required': ['models', 'profiles', 'available_limit'],
        'properties': {'models': {'type': 'array', 'items': MODEL},
                       'profiles': {'type': 'array', 'items': PROFILE},
                       'available_limit': {'type': 'integer'}},
        'additionalProperties': False}},
    'additionalProperties': False,
}
