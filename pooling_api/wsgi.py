"""``application`` for any WSGI server: ``pooling_api.wsgi:application``.

Config files come from POOLING_CONFIG_FILES (comma separated) or the default
search path (/etc/pooling/pooling.conf). Built once per worker, after fork.
"""

import os

from pooling.cmd import common


def init_application():
    files = [f for f in os.environ.get('POOLING_CONFIG_FILES', '').split(',') if f]
    args = []
    for path in files:
        args += ['--config-file', path]
    conf = common.prepare(args)
    from pooling_api import app

    return app.build(conf)


class _Lazy:
    """Build the app on first request, so importing this module does no work."""

    def __init__(self):
        self._app = None

    def __call__(self, environ, start_response):
        if self._app is None:
            self._app = init_application()
        return self._app(environ, start_response)


application = _Lazy()
