"""A read-only Neutron stand-in: every GET answers an empty collection.

nova-api's server show and list ask Neutron for ports and security groups even
for servers booted with ``networks: none``; the e2e stack runs no Neutron, so
this answers those reads. It takes any token: Nova reaches it through
``[neutron] endpoint_override``.
"""

from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
import json
import sys


class Handler(BaseHTTPRequestHandler):
    def _reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 (http.server's naming)
        path = self.path.split("?")[0].rstrip("/")
        if path == "":
            link = {"rel": "self", "href": "http://%s/v2.0/" % self.headers["Host"]}
            return self._reply(200, {"versions": [
                {"id": "v2.0", "status": "CURRENT", "links": [link]}]})
        if path == "/v2.0":
            return self._reply(200, {"resources": []})
        name = path.rsplit("/", 1)[-1].replace("-", "_")
        return self._reply(200, {name: []})

    def do_DELETE(self):  # noqa: N802
        self._reply(204, {})

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.command, self.path))


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 9696
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
