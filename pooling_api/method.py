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


def json_body(req) -> dict:
    """The request's JSON object, or a 400/415 that says what is wrong."""
    if req.content_type != JSON:
        raise HTTPError(415, 'pooling.unsupported_media_type',
                        'The request body must be application/json, not %r.'
                        % (req.content_type or 'nothing'))
    try:
        body = json.loads(req.body.decode('utf-8') if req.body else '')
    except (ValueError, UnicodeDecodeError) as err:
        raise HTTPError(400, 'pooling.malformed_json',
                        'The request body is not valid JSON: %s' % err) from None
    return body


def context(req):
    return req.environ['pooling.context']
