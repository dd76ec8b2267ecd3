"""JSON Schema validation of request bodies and query strings, before any work."""

import jsonschema

from pooling_api import method
from pooling_api import microversion
from pooling_api.schemas import common

# NOTE: building a validator costs more than validating; schemas are module
# constants, so each is built once per process, keyed by the schema object.
_VALIDATORS: dict[int, tuple[dict, jsonschema.Draft202012Validator]] = {}


def _validate(data, schema: dict) -> None:
    entry = _VALIDATORS.get(id(schema))
    if entry is None or entry[0] is not schema:
        entry = _VALIDATORS[id(schema)] = (schema, jsonschema.Draft202012Validator(schema))
    entry[1].validate(data)


def _keys(schema: dict) -> list[str]:
    """The property names a ``required`` / ``anyOf`` of ``required`` schema speaks of."""
    keys = list(schema.get('required', ()))
    for sub in schema.get('anyOf', ()):
        keys += [k for k in sub.get('required', ()) if k not in keys]
    return keys


def _quote_keys(keys) -> str:
    return ', '.join(repr(k) for k in keys)


def _one_of(err: jsonschema.ValidationError) -> str | None:
    """Say what is missing or conflicting when an object matched no or several ``oneOf``
    branches; jsonschema's own text ("... is not valid under any of the given schemas")
    names neither. Branches are ``required`` keys plus ``not`` keys they refuse."""
    inst = err.instance
    if not isinstance(inst, dict):
        return None
    choices = ' or '.join(b.get('description', _quote_keys(b.get('required', ())))
                          for b in err.validator_value)
    options = []
    for branch in err.validator_value:
        missing = [k for k in branch.get('required', ()) if k not in inst]
        refused = [k for k in _keys(branch.get('not', {})) if k in inst]
        options.append((len(missing) + len(refused), missing, refused, branch))
    named = {k for b in err.validator_value for k in b.get('required', ())}
    best = min(o[0] for o in options)
    near = [o for o in options if o[0] == best]
    if not named & set(inst):
        return 'give %s' % choices
    if best == 0 or len(near) > 1:
        return 'give exactly one of %s' % choices
    _, missing, refused, branch = near[0]
    given = [k for k in branch.get('required', ()) if k in inst]
    if refused:
        return '%s cannot be combined with %s: give %s, not both' % (
            _quote_keys(refused), _quote_keys(given), choices)
    return '%s %s missing (with %s): give %s' % (
        _quote_keys(missing), 'is' if len(missing) == 1 else 'are', _quote_keys(given), choices)


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
    if err.validator == 'oneOf':
        message = _one_of(err) or message
    if err.validator == 'additionalProperties':
        return 'Invalid %s: %s' % (what, message)
    return 'Invalid %s%s: %s' % (what, ' at %r' % where if where else '', message)


def compute_milli(percent, field: str = 'compute_percent') -> int:
    """A validated ``compute_percent`` in the service's tenths of a percent; a finer
    value is a 400 rather than silently rounded."""
    milli = round(percent * 10)
    if abs(percent * 10 - milli) > 1e-6:
        raise method.HTTPError(400, 'pooling.invalid',
                               'Invalid request body: %s %s has more than one decimal; the '
                               'service counts tenths of a percent.' % (field, percent))
    return milli


def body(req, schema: dict) -> dict:
    """Parse and validate the JSON body against ``schema``; 400 on mismatch."""
    data = method.json_body(req)
    try:
        _validate(data, schema)
    except jsonschema.ValidationError as err:
        raise method.HTTPError(400, 'pooling.invalid', _message(err, 'request body')) from None
    if isinstance(data, dict):
        for field, version in common.fields_since(schema).items():
            if field in data and not microversion.at_least(req, version):
                raise method.HTTPError(
                    400, 'pooling.invalid',
                    '%s needs microversion %s or later (header "%s: %s %s").'
                    % (field, version, microversion.HEADER, microversion.SERVICE_TYPE, version))
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
