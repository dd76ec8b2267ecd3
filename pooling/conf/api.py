"""[api] options: where and how pooling-api serves."""

from oslo_config import cfg

GROUP = 'api'

OPTS = [
    cfg.HostAddressOpt('host', default='127.0.0.1', help='Address pooling-api listens on.'),
    cfg.PortOpt('port', default=6388, help='Port pooling-api listens on.'),
    cfg.IntOpt('workers', default=2, min=1,
               help='Number of API worker processes (pooling-api only; the all-in-one '
                    'serves from threads of one process).'),
    cfg.StrOpt('auth_strategy', default='keystone', choices=['keystone', 'noauth'],
               help='keystone: keystonemiddleware validates tokens. noauth: identity is '
                    'taken from X-Project-Id / X-User-Id / X-Roles headers; only for the '
                    'all-in-one and tests.'),
    cfg.IntOpt('max_limit', default=1000, min=1,
               help='Largest number of items a list request returns.'),
    cfg.IntOpt('threads', default=8, min=1,
               help='Handler threads per API worker process (pooling-api only).'),
    cfg.FloatOpt('body_read_timeout', default=10.0, min=0.1,
                 help='Seconds a client has to send its whole request body; a slower '
                      'one gets a 408 and its connection closed, so a trickling client '
                      'holds a handler thread for at most this long. Put a buffering '
                      'front end (nginx, see the admin guide) before pooling-api to '
                      'hold slow clients away from the handler threads altogether. The '
                      'largest body is [oslo_middleware] max_request_body_size.'),
    cfg.FloatOpt('consumer_locate_timeout', default=5.0, min=0.5,
                  help='Seconds a vGPU claim waits for the agent of its consumer\'s host to '
                       'say where the consumer runs now (a vSphere VM: its ESXi host), for '
                       'consumer platforms whose hosts a platform driver discovered. No '
                       'answer in time: the claim is refused with 503 and Retry-After, and '
                       'nothing is held.'),
]


def register_opts(conf):
    conf.register_opts(OPTS, group=GROUP)


def list_opts():
    return {GROUP: OPTS}
