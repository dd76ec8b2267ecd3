"""WSGI middleware of our own: identity without Keystone, context, microversion."""

import webob
import webob.dec

from pooling import context as pooling_context
from pooling_api import method
from pooling_api import microversion


class NoAuth:
    """Identity from headers, for the all-in-one and tests only ([api] auth_strategy).

    X-Project-Id, X-User-Id and X-Roles default to an admin of project
    ``admin``. Mirrors the headers keystonemiddleware sets after validation.
    """

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        environ.setdefault('HTTP_X_PROJECT_ID', 'admin')
        environ.setdefault('HTTP_X_USER_ID', 'admin')
        environ.setdefault('HTTP_X_ROLES', 'admin,member,reader')
        environ['HTTP_X_IDENTITY_STATUS'] = 'Confirmed'
        return self.app(environ, start_response)


class Context:
    """Put a RequestContext (from the identity headers) into the environ."""

    def __init__(self, app, services):
        self.app = app
        self.services = services

    def __call__(self, environ, start_response):
        ctx = pooling_context.RequestContext.from_environ(environ)
        environ['pooling.context'] = ctx
        environ['pooling.services'] = self.services
        return self.app(environ, start_response)


class Microversion:
    """Pick the request's microversion; 400 when malformed, 406 when unsupported."""

    def __init__(self, app):
        self.app = app

    @webob.dec.wsgify
    def __call__(self, req):
        try:
            version = microversion.extract(req.headers)
        except microversion.BadVersion as err:
            return method.error(req, 400, 'pooling.invalid_microversion', str(err))
        except microversion.UnsupportedVersion as err:
            return method.error(req, 406, 'pooling.unsupported_microversion', str(err))
        req.environ[microversion.ENVIRON_KEY] = version
        return req.get_response(self.app)


class RequestSanity:
    """Refuse, as JSON errors, requests that would break parsing further in.

    NOTE: pecan and WebOb parse form bodies and query strings themselves and
    answer their failures with HTML (or a 500 for a multipart type without a
    boundary); this API only speaks JSON, so such input stops here with a 4xx
    that says what is wrong (found by the schemathesis run, BUG-2 and BUG-5).
    """

    def __init__(self, app):
        self.app = app

    @webob.dec.wsgify
    def __call__(self, req):
        try:
            req.path_info.encode('utf-8')
            req.GET.items()
        except (UnicodeDecodeError, UnicodeEncodeError):
            return method.error(req, 400, 'pooling.invalid',
                                'The URL or query string is not valid UTF-8.')
        has_body = bool(req.content_length) or req.method in ('POST', 'PUT', 'PATCH')
        if req.content_type and req.content_type != method.JSON:
            if has_body:
                return method.error(req, 415, 'pooling.unsupported_media_type',
                                    'The request body must be application/json, not %r.'
                                    % req.content_type)
            del req.environ['CONTENT_TYPE']  # nothing to parse; keep pecan from trying
        if has_body and req.content_type == method.JSON:
            try:
                req.body.decode('utf-8')
            except UnicodeDecodeError:
                return method.error(req, 400, 'pooling.malformed_json',
                                    'The request body is not valid UTF-8 JSON.')
        return req.get_response(self.app)


class PublicPaths:
    """Let version discovery through without a token, everything else via ``auth``."""

    def __init__(self, app, auth, public):
        self.app, self.auth, self.public = app, auth, public

    def __call__(self, environ, start_response):
        path = environ.get('PATH_INFO', '').rstrip('/') or '/'
        if path in self.public:
            return self.app(environ, start_response)
        return self.auth(environ, start_response)
