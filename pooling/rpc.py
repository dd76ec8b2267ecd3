"""oslo.messaging plumbing: transports, targets, servers (threading executor).

``rabbit://`` in production and functional tests; ``fake://`` (in-process)
only in the all-in-one, where API, conductor and agents share one process.
"""

import oslo_messaging as messaging
from oslo_serialization import jsonutils

from pooling import context as pooling_context

CONDUCTOR_TOPIC = 'pooling-conductor'
AGENT_TOPIC = 'pooling-agent'
RPC_VERSION = '1.0'


class ContextSerializer(messaging.Serializer):
    """Carry our RequestContext across RPC; entities are plain JSON already."""

    def serialize_entity(self, ctxt, entity):
        return jsonutils.to_primitive(entity, convert_instances=True)

    def deserialize_entity(self, ctxt, entity):
        return entity

    def serialize_context(self, ctxt):
        return ctxt.to_dict()

    def deserialize_context(self, ctxt):
        return pooling_context.RequestContext.from_dict(ctxt)


def get_transport(conf):
    return messaging.get_rpc_transport(conf)


def get_client(transport, topic: str, server: str | None = None, timeout=None,
               version: str = RPC_VERSION):
    target = messaging.Target(topic=topic, server=server, version=version)
    return messaging.get_rpc_client(transport, target, serializer=ContextSerializer(),
                                    timeout=timeout)


def get_server(transport, topic: str, server: str, endpoints: list):
    target = messaging.Target(topic=topic, server=server, version=RPC_VERSION)
    return messaging.get_rpc_server(transport, target, endpoints,
                                    serializer=ContextSerializer())
