"""pooling: the domain core of the accelerator pool.

NOTE: oslo.messaging and futurist import eventlet when it is installed (a dependency of a
dependency), and eventlet warns about its own deprecation on import. The pool never uses
eventlet (oslo.service runs its threading backend, see pooling.cmd), so that warning says
nothing to an operator; it is silenced here, before any of those libraries is imported by any
entry point. Its message starts with a newline, which ".*" does not match.
"""

import warnings

warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')
