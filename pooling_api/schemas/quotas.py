"""JSON Schemas for quotas."""


LIMIT = {'type': 'integer', 'minimum': -1, 'maximum': 2 ** 31 - 1}
# Stored in milli-cards (×10) in a 32-bit column (BUG-3).
COMPUTE_LIMIT = {'type': 'integer', 'minimum': -1, 'maximum': (2 ** 31 - 1) // 10}
UPDATE = {
    'type': 'object', 'required': ['quota'],
    'properties': {'quota': {
        'type': 'object', 'minProperties': 1,
        'properties': {'vgpus': LIMIT, 'memory_mb': LIMIT, 'compute_percent': COMPUTE_LIMIT},
        'additionalProperties': False}},
    'additionalProperties': False,
}
PROJECT_ID = {'type': 'string', 'minLength': 1, 'maxLength': 64,
              'pattern': r'^[A-Za-z0-9_-]+$'}
_USAGE = {'type': 'object', 'required': ['vgpus', 'memory_mb', 'compute_percent'],
          'properties': {'vgpus': {'type': 'integer'}, 'memory_mb': {'type': 'integer'},
                         'compute_percent': {'type': 'number'}},
          'additionalProperties': False}
QUOTA = {
    'type': 'object', 'required': ['quota'],
    'properties': {'quota': {
        'type': 'object',
        'required': ['project_id', 'vgpus', 'memory_mb', 'compute_percent', 'usage'],
        'properties': {'project_id': {'type': 'string'}, 'vgpus': {'type': 'integer'},
                       'memory_mb': {'type': 'integer'}, 'compute_percent': {'type': 'integer'},
                       'usage': _USAGE},
        'additionalProperties': False}},
    'additionalProperties': False,
}
