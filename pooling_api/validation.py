"""JSON Schema validation of request bodies and query strings, before any work."""

import jsonschema

from pooling_api import method

# NOTE: building a validator costs more than validating; schemas are module
# constants, so each is built once per process, keyed by the schema object.
_VALIDATORS: dict[int, tuple[dict, jsonschema.Draft202012Validator]] = {}


def _validate(data, schema: dict) -> None:
    entry = _VALIDATORS.get(id(schema))
    if entry is None or entry[0] is not schema:
        entry = _VALIDATORS[id(schema)] = (schema, jsonschema.Draft202012Validator(schema))
    entry[1].validate(data)


def _message(err: jsonschema.ValidationError, what: str) -> str:
    # NOTE: jsonschema quotes the whole bad value (repr); a 50 MB string came
    # back in a 52 MB 400 (issue 13). Only a prefix of it is quoted.
    message = err.message
    full = repr(err.instance)
    if len(full) > method.QUOTE_CHARS:
        message = message.replace(full, method.quote(err.instance))
        if len(message) > 4 * method.QUOTE_CHARS:
            message = message[:4 * method.QUOTE_CHARS] + '...'
    where = '/'.join(str(p) for p in err.absolute_path)[:method.QUOTE_CHARS]
    if err.validator == 'additionalProperties':
        return 'Invalid %s: %s' % (what, message)
    return 'Invalid %s%s: %s' % (what, ' at %r' % where if where else '', message)


def body(req, schema: dict) -> dict:
    """Parse and validate the JSON body against ``schema``; 400 on mismatch."""
    data = method.json_body(req)
    try:
        _validate(data, schema)
    except jsonschema.ValidationError as err:
        raise method.HTTPError(400, 'pooling.invalid', _message(err, 'request body')) from None
    return data


def query(req, schema: dict) -> dict:
    """Validate the query string (single values only) against ``schema``."""
    params = {}
    for key in req.GET.keys():
        values = req.GET.getall(key)
        if len(values) > 1:
            raise method.HTTPError(400, 'pooling.invalid',
                                   'Invalid query: %r given more than once' % key[:64])
        params[key] = values[0]
    try:
        _validate(params, schema)
    except jsonschema.ValidationError as err:
        raise method.HTTPError(400, 'pooling.invalid', _message(err, 'query')) from None
    return params
