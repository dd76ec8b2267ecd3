"""An in-process stand-in for the kube-apiserver's ``resource.k8s.io/v1`` endpoints.

Real HTTP on loopback, so the real ``kubernetes`` client drives it unchanged.  What it keeps of
the API server's behaviour, because our controller depends on it: list with ``fieldSelector``
(``spec.driver``, ``spec.nodeName``, ``metadata.name``; any other field is a 400 as on a real
server) and ``labelSelector`` (``k=v``), create (409 AlreadyExists), replace with optimistic
concurrency (409 Conflict when ``metadata.resourceVersion`` is not the stored one), read, delete
(404), one resourceVersion counter, ``uid`` and ``creationTimestamp`` set by the server.  Cluster-
scoped ResourceSlices and DeviceClasses; namespaced ResourceClaims (read only).
"""

import http.server
import itertools
import json
import threading
from urllib import parse
import uuid

PREFIX = '/apis/resource.k8s.io/v1'
KINDS = {'resourceslices': 'ResourceSlice', 'deviceclasses': 'DeviceClass',
         'resourceclaims': 'ResourceClaim'}
FIELDS = {'spec.driver': lambda o: o['spec'].get('driver'),
          'spec.nodeName': lambda o: o['spec'].get('nodeName'),
          'metadata.name': lambda o: o['metadata']['name']}


class FakeApiServer:
    def __init__(self):
        self.store = {k: {} for k in KINDS}  # plural → {(namespace, name): object}
        self.rv = itertools.count(1)
        self.lock = threading.Lock()
        self.requests = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, code, body):
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self):
                return json.loads(self.rfile.read(int(self.headers['Content-Length'])))

            def _route(self, method):
                url = parse.urlsplit(self.path)
                outer.requests.append((method, url.path, url.query))
                if not url.path.startswith(PREFIX + '/'):
                    return self._send(404, _status(404, 'NotFound', url.path))
                parts = url.path[len(PREFIX) + 1:].split('/')
                namespace = None
                if parts[0] == 'namespaces':
                    namespace, parts = parts[1], parts[2:]
                plural, name = parts[0], (parts[1] if len(parts) > 1 else None)
                if plural not in KINDS:
                    return self._send(404, _status(404, 'NotFound', plural))
                with outer.lock:
                    code, body = outer.handle(method, plural, namespace, name,
                                              parse.parse_qs(url.query),
                                              self._body() if method in ('POST', 'PUT') else None)
                self._send(code, body)

            def do_GET(self):  # noqa: N802
                self._route('GET')

            def do_POST(self):  # noqa: N802
                self._route('POST')

            def do_PUT(self):  # noqa: N802
                self._route('PUT')

            def do_DELETE(self):  # noqa: N802
                self._route('DELETE')

        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.url = f'http://127.0.0.1:{self.httpd.server_address[1]}'
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def client(self):
        from kubernetes import client as k8s

        conf = k8s.Configuration()
        conf.host = self.url
        return k8s.ApiClient(conf)

    # The API's behaviour ------------------------------------------------------
    def handle(self, method, plural, namespace, name, query, body):
        objects = self.store[plural]
        if name is None and method == 'GET':
            items = [o for (ns, _n), o in sorted(objects.items())
                     if namespace is None or ns == namespace]
            for sel in query.get('fieldSelector', []):
                for term in filter(None, sel.split(',')):
                    key, _, value = term.partition('=')
                    if key not in FIELDS:
                        return 400, _status(400, 'BadRequest',
                                            f'field label not supported: {key}')
                    items = [o for o in items if FIELDS[key](o) == value]
            for sel in query.get('labelSelector', []):
                for term in filter(None, sel.split(',')):
                    key, _, value = term.partition('=')
                    items = [o for o in items
                             if (o['metadata'].get('labels') or {}).get(key) == value]
            return 200, {'apiVersion': 'resource.k8s.io/v1', 'kind': KINDS[plural] + 'List',
                         'metadata': {'resourceVersion': str(next(self.rv))}, 'items': items}
        if method == 'POST':
            key = (namespace, body['metadata']['name'])
            if key in objects:
                return 409, _status(409, 'AlreadyExists', f'{key[1]} already exists')
            body['metadata'].update(uid=str(uuid.uuid4()), resourceVersion=str(next(self.rv)),
                                    creationTimestamp='2026-12-01T00:00:00Z')
            objects[key] = body
            return 201, body
        key = (namespace, name)
        if key not in objects:
            return 404, _status(404, 'NotFound', f'{plural} "{name}" not found')
        if method == 'GET':
            return 200, objects[key]
        if method == 'DELETE':
            # NOTE: like the real server for these kinds: the deleted object comes back.
            return 200, objects.pop(key)
        if method == 'PUT':
            stored = objects[key]
            if body['metadata'].get('resourceVersion') != stored['metadata']['resourceVersion']:
                return 409, _status(409, 'Conflict', 'the object has been modified; please '
                                    'apply your changes to the latest version and try again')
            body['metadata'].update(uid=stored['metadata']['uid'],
                                    creationTimestamp=stored['metadata']['creationTimestamp'],
                                    resourceVersion=str(next(self.rv)))
            objects[key] = body
            return 200, body
        return 405, _status(405, 'MethodNotAllowed', method)

    # Test helpers ---------------------------------------------------------------
    def put_claim(self, namespace, name, uid, results):
        self.store['resourceclaims'][(namespace, name)] = {
            'apiVersion': 'resource.k8s.io/v1', 'kind': 'ResourceClaim',
            'metadata': {'name': name, 'namespace': namespace, 'uid': uid,
                         'resourceVersion': str(next(self.rv))},
            'spec': {'devices': {'requests': [{'name': r['request'], 'exactly': {
                'deviceClassName': 'x'}} for r in results]}},
            'status': {'allocation': {'devices': {'results': results}}}}

    def touch(self, plural, name):
        """Another writer changes an object (its resourceVersion moves)."""
        with self.lock:
            obj = self.store[plural][(None, name)]
            obj['metadata']['resourceVersion'] = str(next(self.rv))
            obj['metadata'].setdefault('labels', {})['touched'] = 'yes'

    def objects(self, plural):
        return [o for (_ns, _n), o in sorted(self.store[plural].items())]


def _status(code, reason, message):
    return {'kind': 'Status', 'apiVersion': 'v1', 'status': 'Failure' if code >= 400 else
            'Success', 'reason': reason, 'message': message, 'code': code}
