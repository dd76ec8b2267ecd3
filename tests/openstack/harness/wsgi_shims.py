"""WSGI entry points for upstream apps that parse ``sys.argv`` at import.

Keystone, Nova (osapi_compute, metadata) and Cyborg build their WSGI app with
oslo.config reading ``sys.argv``; under gunicorn ``sys.argv`` holds gunicorn's
own flags and the worker dies. Each function resets argv before the import.
Used as ``gunicorn 'wsgi_shims:keystone()'`` (gunicorn calls the factory).
"""

import os
import sys


def keystone():
    sys.argv = sys.argv[:1]
    from keystone.wsgi.api import application

    return application


def nova_api():
    sys.argv = sys.argv[:1]
    from nova.wsgi.osapi_compute import application

    return application


def nova_metadata():
    sys.argv = sys.argv[:1]
    from nova.wsgi.metadata import application

    return application


def cyborg():
    sys.argv = ["cyborg-api", "--config-file", os.environ["CYBORG_CONF"]]
    from cyborg.wsgi.api import application

    return application
