"""Schema pieces shared by several resources."""

NAME = {'type': 'string', 'minLength': 1, 'maxLength': 255,
        'pattern': r'^[A-Za-z0-9][A-Za-z0-9._:-]*$'}
DESCRIPTION = {'type': 'string', 'maxLength': 255}
UUID = {'type': 'string', 'format': 'uuid',
        'pattern': '^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?'
                   '[0-9a-fA-F]{12}$'}
IDENT = {'type': 'string', 'minLength': 1, 'maxLength': 255}
TIMESTAMP = {'type': ['string', 'null']}
# One unit everywhere: percent of one card, a number with at most one decimal (the service
# counts tenths of a percent), as devices report partitions (14.2 for a MIG 1g of 7).
COMPUTE_PERCENT = {'type': 'number', 'minimum': 0.1, 'maximum': 100}
MEMORY_MB = {'type': 'integer', 'minimum': 1, 'maximum': 16 * 1024 * 1024}
COUNT = {'type': 'integer', 'minimum': 1, 'maximum': 64}
MODELS = {'type': 'array', 'items': {'type': 'string', 'minLength': 1, 'maxLength': 128},
          'uniqueItems': True, 'maxItems': 32}
LOCALITY = {'type': 'string', 'enum': ['local', 'remote-allowed', 'remote-required']}
ISOLATION = {'type': 'string', 'enum': ['hard', 'firm', 'soft', 'none']}
BOOL_QUERY = {'type': 'string', 'enum': ['true', 'false', 'True', 'False', '1', '0']}
CAPACITY = {'type': 'object', 'required': ['compute_percent', 'memory_mb'],
            'properties': {'compute_percent': {'type': 'number'},
                           'memory_mb': {'type': 'integer'}},
            'additionalProperties': False}

#: The keyword that says which microversion added a field. JSON Schema ignores keywords it does
#: not know and OpenAPI 3.1 allows ``x-`` ones, so the one schema serves validation, the
#: serializers (which hide a field below its version), the OpenAPI document and the API
#: reference ("New in version").
SINCE = 'x-min-version'


def since(version: str, schema: dict) -> dict:
    """``schema`` marked as added in microversion ``version``."""
    return {**schema, SINCE: version}


def fields_since(schema: dict) -> dict[str, str]:
    """Property name → the microversion that added it, for the properties marked so."""
    return {name: prop[SINCE] for name, prop in schema.get('properties', {}).items()
            if SINCE in prop}


def no_query() -> dict:
    return {'type': 'object', 'properties': {}, 'additionalProperties': False}


def as_bool(value: str | None) -> bool:
    return str(value).lower() in ('true', '1')


def list_of(key: str, item: dict) -> dict:
    return {'type': 'object', 'required': [key],
            'properties': {key: {'type': 'array', 'items': item}},
            'additionalProperties': False}
