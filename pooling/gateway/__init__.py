"""The remote data plane's front door: per-host TLS gateway, lease credentials, lease documents.

``server`` runs the gateway (one TLS listener per device host), ``credentials`` mints and checks
per-lease bearer tokens, ``lease`` is the one typed lease document a consumer receives, ``proxy``
is the consumer-side local proxy of ``pooling run``, ``pki`` makes the all-in-one's CA.
"""
