"""The small layer between pecan and the handlers: JSON in, JSON out, JSON errors.

Error bodies follow the API-SIG errors guideline:
``{"errors": [{"status", "code", "title", "detail", "request_id"}]}``.
"""

import json

import webob

from pooling_api import microversion

JSON = 'application/json'


def _headers(req) -> list:
    version = req.environ.get(microversion.ENVIRON_KEY)
    headers = [('Vary', microversion.HEADER)]
    if version is not None:
        headers.append((microversion.HEADER, '%s %s' % (microversion.SERVICE_TYPE, version)))
    return headers


def respond(req, status: int, body=None, headers=None) -> webob.Response:
    """A JSON response (no body for 202/204 without one)."""
    resp = webob.Response(status=status, headerlist=_headers(req) + list(headers or []))
    if body is not None:
        resp.content_type = JSON
        resp.charset = 'utf-8'
        resp.text = json.dumps(body)
    else:
        resp.content_type = None
    return resp


def error(req, status: int, code: str, detail: str, headers=None) -> webob.Response:
    title = webob.exc.status_map[status].title if status in webob.exc.status_map else 'Error'
    body = {'errors': [{'status': status, 'code': code, 'title': title, 'detail': detail,
                        'request_id': req.environ.get('openstack.request_id')}]}
    return respond(req, status, body, headers)


class HTTPError(Exception):
    """Raised by handlers and helpers to answer with an error."""

    def __init__(self, status: int, code: str, detail: str, headers=None):
        super().__init__(detail)
        self.status, self.code, self.detail, self.headers = status, code, detail, headers


# NOTE: our documents nest three levels at most; anything deeper is refused
# before validation, whose recursion would otherwise meet Python's limit.
MAX_DEPTH = 32
# How much of a bad value an error message quotes.
QUOTE_CHARS = 64


def quote(value) -> str:
    """``repr(value)``, cut to a short prefix: a 50 MB bad value is not echoed back."""
    text = repr(value)
    if len(text) > QUOTE_CHARS:
        text = text[:QUOTE_CHARS] + '... (%d characters)' % len(text)
    return text


def _depth(value) -> int:
    """Nesting depth of a parsed JSON value, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = item.values()
        elif not isinstance(item, list):
            continue
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            break
        stack.extend((child, depth + 1) for child in item)
    return deepest


def _not_json(name):
    raise ValueError('%s is not a JSON number' % name)


def parse_json(raw: bytes):
    """The JSON value in ``raw``, or an HTTPError saying what is wrong with it."""
    try:
        text = raw.decode('utf-8')
    except UnicodeDecodeError:
        raise HTTPError(400, 'pooling.malformed_json',
                        'The request body is not valid UTF-8 JSON.') from None
    try:
        value = json.loads(text, parse_constant=_not_json) if text else None
    except RecursionError:
        raise HTTPError(400, 'pooling.malformed_json',
                        'The request body nests deeper than %d levels.' % MAX_DEPTH) from None
    except ValueError as err:
        raise HTTPError(400, 'pooling.malformed_json',
                        'The request body is not valid JSON: %s' % str(err)[:200]) from None
    if _depth(value) > MAX_DEPTH:
        raise HTTPError(400, 'pooling.malformed_json',
                        'The request body nests deeper than %d levels.' % MAX_DEPTH)
    return value


_MISSING = object()


def json_body(req) -> dict:
    """The request's JSON value (parsed once by middleware.JSONBody), or a 400/415."""
    if req.content_type != JSON:
        raise HTTPError(415, 'pooling.unsupported_media_type',
                        'The request body must be application/json, not %s.'
                        % quote(req.content_type or 'nothing'))
    parsed = req.environ.get('pooling.json', _MISSING)
    if parsed is _MISSING:
        parsed = parse_json(req.body)
    if parsed is None:
        raise HTTPError(400, 'pooling.malformed_json',
                        'The request body is not valid JSON: it is empty or null.')
    return parsed


def context(req):
    return req.environ['pooling.context']
