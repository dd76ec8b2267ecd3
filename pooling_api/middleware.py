"""WSGI middleware of our own: identity without Keystone, context, microversion."""

import io
import socket
import threading

from oslo_middleware import healthcheck
from oslo_middleware import sizelimit
import webob
import webob.dec
import webob.exc

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
    The body itself is not read here: that waits for ``JSONBody``, after
    authentication, so an anonymous client costs no body read.
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
                                    'The request body must be application/json, not %s.'
                                    % method.quote(req.content_type))
            del req.environ['CONTENT_TYPE']  # nothing to parse; keep pecan from trying
        return req.get_response(self.app)


class JSONBody:
    """Read and parse a JSON body once, bounded in size, depth and time.

    The parsed value goes to ``environ['pooling.json']`` and the body is
    emptied, so pecan (which parses JSON bodies itself, outside our error
    handling: a 10,000-deep array was a 500 HTML page, issue 13) has nothing
    left to parse. Size is bounded before this by oslo.middleware's
    RequestBodySizeLimiter; time by ``read_timeout`` (a client trickling its
    body gets a 408 instead of holding a server thread for as long as it
    likes).
    """

    CHUNK = 65536

    def __init__(self, app, read_timeout: float):
        self.app = app
        self.read_timeout = read_timeout

    def _read(self, req) -> bytes:
        # NOTE: gunicorn hands its client socket in the environ, and its body
        # reader loops on recv until it has what was asked for, so a timeout on
        # each recv would not bound a trickle; a timer shuts the socket's read
        # side at the deadline instead, which ends any read at once (the 408
        # still goes out). Other servers (mod_wsgi, uWSGI, the test client)
        # bound body time themselves.
        sock = req.environ.get('gunicorn.socket')
        expired = threading.Event()

        def expire():
            expired.set()
            try:
                sock.shutdown(socket.SHUT_RD)
            except OSError:
                pass

        timer = None
        if sock is not None:
            timer = threading.Timer(self.read_timeout, expire)
            timer.daemon = True
            timer.start()
        stream = req.environ['wsgi.input']
        chunks = []
        left = req.content_length
        try:
            while left is None or left > 0:
                chunk = stream.read(self.CHUNK if left is None else min(left, self.CHUNK))
                if not chunk:
                    break
                chunks.append(chunk)
                if left is not None:
                    left -= len(chunk)
        except Exception:
            if expired.is_set():
                raise TimeoutError from None
            raise
        finally:
            if timer is not None:
                timer.cancel()
        if expired.is_set() or (left is not None and left > 0):
            raise TimeoutError  # cut off, or the client closed before the end
        return b''.join(chunks)

    @webob.dec.wsgify
    def __call__(self, req):
        has_body = bool(req.content_length) or req.environ.get('wsgi.input_terminated')
        if not has_body or req.content_type != method.JSON or req.method == 'GET':
            return req.get_response(self.app)
        try:
            raw = self._read(req)
        except webob.exc.HTTPRequestEntityTooLarge:
            return method.error(req, 413, 'pooling.request_too_large',
                                'The request body is larger than %d bytes.' % self.limit(req))
        except (TimeoutError, OSError):
            resp = method.error(req, 408, 'pooling.request_timeout',
                                'The request body did not arrive within %s seconds.'
                                % self.read_timeout)
            resp.headers['Connection'] = 'close'
            return resp
        try:
            req.environ['pooling.json'] = method.parse_json(raw)
        except method.HTTPError as err:
            return method.error(req, err.status, err.code, err.detail)
        req.environ['wsgi.input'] = io.BytesIO(b'')
        req.environ['CONTENT_LENGTH'] = '0'
        req.environ.pop('wsgi.input_terminated', None)
        return req.get_response(self.app)

    @staticmethod
    def limit(req) -> int:
        return req.environ.get('pooling.max_body', 0)


class BodyLimit:
    """oslo.middleware's RequestBodySizeLimiter, with its refusals as API-SIG JSON.

    A Content-Length over ``[oslo_middleware] max_request_body_size`` is
    refused before anything is read (and before authentication); a chunked
    body is cut off as soon as it passes the limit (in ``JSONBody``).
    """

    def __init__(self, app, conf):
        self.limit = conf.oslo_middleware.max_request_body_size
        self.app = app
        self.limiter = sizelimit.RequestBodySizeLimiter(self._inner, conf)

    def _inner(self, environ, start_response):
        return self.app(environ, start_response)

    @webob.dec.wsgify
    def __call__(self, req):
        req.environ['pooling.max_body'] = self.limit
        resp = req.get_response(self.limiter)
        if resp.status_int == 413 and resp.content_type != method.JSON:
            return method.error(req, 413, 'pooling.request_too_large',
                                'The request body is larger than %d bytes.' % self.limit)
        return resp


class Health:
    """oslo.middleware's health check at ``/healthcheck``, without auth or a body read."""

    PATH = '/healthcheck'

    def __init__(self, app, conf):
        self.app = app
        self.health = healthcheck.Healthcheck(app, conf)

    def __call__(self, environ, start_response):
        if environ.get('PATH_INFO', '').rstrip('/') == self.PATH:
            return self.health(environ, start_response)
        return self.app(environ, start_response)


class PublicPaths:
    """Let version discovery through without a token, everything else via ``auth``."""

    def __init__(self, app, auth, public):
        self.app, self.auth, self.public = app, auth, public

    def __call__(self, environ, start_response):
        path = environ.get('PATH_INFO', '').rstrip('/') or '/'
        if path in self.public:
            return self.app(environ, start_response)
        return self.auth(environ, start_response)


class AuthErrors:
    """Rewrite keystonemiddleware's own error bodies (401 and the 503 when Keystone is
    away) as the API-SIG ``{"errors": [...]}`` every other answer of this API uses;
    its headers (WWW-Authenticate) are kept. Answers of ours pass untouched."""

    CODES = {401: 'pooling.unauthorized', 503: 'pooling.auth_unavailable'}

    def __init__(self, auth):
        self.auth = auth

    @webob.dec.wsgify
    def __call__(self, req):
        resp = req.get_response(self.auth)
        if resp.status_int not in self.CODES:
            return resp
        detail = 'The request you have made requires authentication.'
        try:
            body = resp.json
        except ValueError:
            body = None
        if isinstance(body, dict):
            if 'errors' in body:
                return resp
            detail = (body.get('error') or {}).get('message') or detail
        keep = [(k, v) for k, v in resp.headerlist if k.lower() == 'www-authenticate']
        return method.error(req, resp.status_int, self.CODES[resp.status_int], detail, keep)
