"""JSON Schema of what Nova's DynamicJSON vendordata provider POSTs.

Nova sends project-id, instance-id, image-id, user-data, hostname, metadata
and boot-roles; we need the first two and accept the rest as they come.
"""

REQUEST = {
    'type': 'object', 'required': ['instance-id', 'project-id'],
    'properties': {'instance-id': {'type': 'string', 'minLength': 1, 'maxLength': 255},
                   'project-id': {'type': 'string', 'minLength': 1, 'maxLength': 255}},
    'additionalProperties': True,
}
RESPONSE = {
    'type': 'object', 'required': ['vgpus'],
    'properties': {'leases': {'type': 'array', 'items': {'type': 'object'}},
                   'vgpus': {'type': 'array', 'items': {
        'type': 'object',
        'required': ['uuid', 'profile', 'state', 'compute_percent', 'memory_mb', 'count',
                     'locality', 'slices', 'attachment']}}},
}
