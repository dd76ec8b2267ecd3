"""pooling_drivers: the plugins (accelerators, isolation, remoting, platforms).

Leaves of the service: modules here import only their contracts and vendor libraries, never
``pooling`` or ``pooling_api``, so that each can be tested and shipped on its own.
"""
