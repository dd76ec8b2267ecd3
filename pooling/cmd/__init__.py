"""Console scripts. Importing this package selects oslo.service's threading backend.

NOTE: the backend must be chosen before any oslo.service service is created,
and we never use eventlet.
"""

import warnings

# NOTE: futurist imports eventlet when it is installed (a dependency of a
# dependency) and eventlet warns on import; we never use it. Its message starts with a
# newline, which ".*" does not match.
warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')

from oslo_service import backend  # noqa: E402
from oslo_service.backend import exceptions  # noqa: E402

try:
    backend.init_backend(backend.BackendType.THREADING)
except exceptions.BackendAlreadySelected:
    pass
