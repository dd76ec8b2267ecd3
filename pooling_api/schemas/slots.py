"""JSON Schemas for the slots view (GET /v1/slots?host=)."""

LIST_QUERY = {
    'type': 'object', 'required': ['host'],
    'properties': {'host': {'type': 'string', 'minLength': 1, 'maxLength': 255}},
    'additionalProperties': False,
}
HANDLE = {
    'type': 'object', 'required': ['type', 'info'],
    'properties': {'type': {'enum': ['PCI', 'TEST_PCI']},
                   'info': {'type': 'object', 'additionalProperties': {'type': 'string'}}},
}
SLOT = {
    'type': 'object',
    'required': ['profile', 'device_profile', 'resource_class', 'traits', 'total', 'in_use',
                 'local', 'remote', 'handles'],
    'properties': {'profile': {'type': 'string'}, 'device_profile': {'type': 'string'},
                   'resource_class': {'type': 'string', 'pattern': '^CUSTOM_[A-Z0-9_]+$'},
                   'traits': {'type': 'array',
                              'items': {'type': 'string', 'pattern': '^CUSTOM_[A-Z0-9_]+$'}},
                   'total': {'type': 'integer', 'minimum': 0},
                   'in_use': {'type': 'integer', 'minimum': 0},
                   'local': {'type': 'integer', 'minimum': 0},
                   'remote': {'type': 'integer', 'minimum': 0},
                   'handles': {'type': 'array', 'items': HANDLE}},
}
SLOTS = {'type': 'object', 'required': ['host', 'slots'],
         'properties': {'host': {'type': 'string'}, 'slots': {'type': 'array', 'items': SLOT}}}
