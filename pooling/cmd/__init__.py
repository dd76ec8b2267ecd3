"""Console scripts. Importing this package selects oslo.service's threading backend.

NOTE: the backend must be chosen before any oslo.service service is created,
and we never use eventlet.
"""

# NOTE: eventlet's deprecation warning on import is silenced in pooling/__init__.py.
from oslo_service import backend
from oslo_service.backend import exceptions

try:
    backend.init_backend(backend.BackendType.THREADING)
except exceptions.BackendAlreadySelected:
    pass
