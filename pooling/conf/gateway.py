"""[gateway] options: the TLS gateway in front of a device host's remote-vGPU backends.

Register with ``pooling.conf.gateway.register_opts(conf)``; ``list_opts`` feeds
oslo-config-generator (listed in ``pooling.conf.opts``).
"""

from oslo_config import cfg

GROUP = 'gateway'

OPTS = [
    cfg.HostAddressOpt('host', default='0.0.0.0',
                       help='Address the gateway listens on (the data-plane NIC of the host).'),
    cfg.PortOpt('port', default=14830,
                help='TLS port consumers connect to; the one port of a device host that must '
                     'be reachable from consumer hosts.'),
    cfg.StrOpt('advertise_host',
               help='Host name or address put in lease documents (default: [agent] host).'),
    cfg.StrOpt('cert_file', help='PEM certificate of the gateway (with chain).'),
    cfg.StrOpt('key_file', secret=True, help='PEM private key of cert_file.'),
    cfg.StrOpt('ca_file',
               help='PEM of the CA that signed cert_file; copied into every lease document so '
                    'consumers can verify the gateway.'),
    cfg.StrOpt('auto_pki_dir',
               help='When cert_file is unset, make (once) a CA and a certificate for this host '
                    'here: the all-in-one default. Not for production.'),
    cfg.FloatOpt('handshake_timeout', default=5.0, min=0.1,
                 help='Seconds a client has to finish the TLS handshake.'),
    cfg.FloatOpt('preamble_timeout', default=2.0, min=0.1,
                 help='Seconds a client has, after the handshake, to send its credential.'),
    cfg.IntOpt('max_pending', default=256, min=1,
               help='Connections at most in handshake or preamble at once; more are closed.'),
    cfg.IntOpt('max_connections_per_lease', default=8, min=1,
               help='Connections (device contexts) one lease may hold open at once.'),
    cfg.IntOpt('credential_ttl', default=3600, min=60,
               help='Seconds a lease credential lives before its owner must renew it.'),
]


def register_opts(conf):
    conf.register_opts(OPTS, group=GROUP)


def list_opts():
    return {GROUP: OPTS}
