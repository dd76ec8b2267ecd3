"""pooling-exporter: serve the pool's Prometheus metrics without Keystone, for Prometheus.

The API's own ``/metrics`` needs an admin token, which Prometheus has no way to renew; this
small server answers ``GET /metrics`` on ``[metrics] exporter_host:exporter_port`` (loopback by
default: bind it to the management network only). It reads the pool from the database and,
when it runs on an API host with the same ``[metrics] multiproc_dir`` (or
``PROMETHEUS_MULTIPROC_DIR``), the claim histograms of every API worker there.
"""

import os
from socketserver import ThreadingMixIn
import sys
from wsgiref import simple_server

from oslo_log import log as logging

from pooling import context as pooling_context
from pooling import metrics
from pooling.cmd import common

LOG = logging.getLogger(__name__)


class _Server(ThreadingMixIn, simple_server.WSGIServer):
    daemon_threads = True


class _Quiet(simple_server.WSGIRequestHandler):
    def log_message(self, format, *args):
        LOG.debug('%s - %s', self.address_string(), format % args)


def make_app(conf):
    """The exporter's WSGI app: GET /metrics, 404 elsewhere, 405 for other methods."""

    def app(environ, start_response):
        if environ.get('PATH_INFO', '/').rstrip('/') != '/metrics':
            start_response('404 Not Found', [('Content-Type', 'text/plain')])
            return [b'Only /metrics is served here.\n']
        if environ['REQUEST_METHOD'] not in ('GET', 'HEAD'):
            start_response('405 Method Not Allowed', [('Allow', 'GET, HEAD')])
            return [b'']
        try:
            body = metrics.render(pooling_context.get_admin_context(), conf)
        except Exception:
            LOG.exception('Could not read the pool for /metrics')
            start_response('503 Service Unavailable', [('Content-Type', 'text/plain')])
            return [b'The pool could not be read; see the exporter log.\n']
        start_response('200 OK', [('Content-Type', metrics.CONTENT_TYPE),
                                  ('Content-Length', str(len(body)))])
        return [body] if environ['REQUEST_METHOD'] == 'GET' else [b'']

    return app


def main(argv=None):
    conf = common.prepare(sys.argv[1:] if argv is None else argv)
    if conf.metrics.multiproc_dir and not os.environ.get(metrics.ENV):
        os.environ[metrics.ENV] = conf.metrics.multiproc_dir
    httpd = simple_server.make_server(conf.metrics.exporter_host, conf.metrics.exporter_port,
                                      make_app(conf), server_class=_Server, handler_class=_Quiet)
    print('pooling-exporter serving on http://%s:%d/metrics'
          % (conf.metrics.exporter_host, httpd.server_port), flush=True)
    httpd.serve_forever()
