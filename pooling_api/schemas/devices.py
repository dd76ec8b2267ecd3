"""JSON Schemas for devices."""

from pooling_api.schemas import common

LIST_QUERY = {
    'type': 'object',
    'properties': {'pool': common.IDENT, 'host': common.IDENT, 'vendor': common.IDENT,
                   'model': common.IDENT,
                   'health': {'type': 'string', 'enum': ['healthy', 'unhealthy']}},
    'additionalProperties': False,
}
DEVICE = {
    'type': 'object',
    'required': ['uuid', 'host', 'pool', 'vendor', 'model', 'health', 'isolation',
                 'capacity', 'used', 'free'],
    'properties': {
        'uuid': {'type': 'string'}, 'host': {'type': 'string'}, 'pool': {'type': 'string'},
        'vendor': {'type': 'string'}, 'model': {'type': 'string'},
        'pci_address': {'type': 'string'}, 'memory_mb': {'type': 'integer'},
        'compute_units': {'type': 'integer'}, 'numa_node': {'type': ['integer', 'null']},
        'driver_version': {'type': 'string'},
        'health': {'type': 'string', 'enum': ['healthy', 'unhealthy']},
        'health_reason': {'type': 'string'},
        'isolation': {'type': 'array', 'items': {'type': 'string'}},
        'capacity': common.CAPACITY, 'used': common.CAPACITY, 'free': common.CAPACITY,
        # Shapes a hard (MIG / vNPU) slice of this card can take.
        'partitions': {'type': 'array', 'items': common.CAPACITY},
        'created_at': common.TIMESTAMP, 'updated_at': common.TIMESTAMP},
    'additionalProperties': False,
}
DEVICES = common.list_of('devices', DEVICE)
