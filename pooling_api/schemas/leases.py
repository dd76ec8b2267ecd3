"""JSON Schemas for remote vGPU leases (microversion 1.3)."""

ENDPOINT = {
    'type': 'object', 'required': ['gateway', 'lease_id', 'cards'],
    'properties': {'gateway': {'type': 'string'}, 'lease_id': {'type': 'string'},
                   'cards': {'type': 'integer'}, 'server_name': {'type': 'string'}},
    'additionalProperties': False,
}
# pooling.gateway.lease.LeaseDocument's JSON (version 1); ``token`` only when issued.
LEASE = {
    'type': 'object',
    'required': ['version', 'vgpu_uuid', 'protocol', 'endpoints', 'expires_at', 'ca_cert'],
    'properties': {
        'version': {'type': 'integer'}, 'vgpu_uuid': {'type': 'string'},
        'protocol': {'type': 'string'}, 'endpoints': {'type': 'array', 'items': ENDPOINT},
        'token': {'type': 'string'}, 'expires_at': {'type': ['string', 'null']},
        'ca_cert': {'type': 'string'}},
    'additionalProperties': False,
}
