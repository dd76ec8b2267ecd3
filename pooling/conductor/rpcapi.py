"""Client side of the conductor's RPC API (used by pooling-api and agents)."""

from oslo_log import log as logging

from pooling import rpc

LOG = logging.getLogger(__name__)


class ConductorAPI:
    """Casts (fire and forget): the conductor persists and drives state itself.

    A cast that cannot be sent is logged, not raised: the claim or delete it
    follows is already committed, and the conductor's reconciler picks up
    vGPUs that wait in SCHEDULED or RELEASING (``[conductor] stuck_after``).
    """

    def __init__(self, conf, transport=None):
        self._transport = transport or rpc.get_transport(conf)
        self._client = rpc.get_client(self._transport, rpc.CONDUCTOR_TOPIC)
        # 1.1: held_on, backend_failed, push_lease (calls wait for the agents).
        self._client_11 = rpc.get_client(self._transport, rpc.CONDUCTOR_TOPIC, version='1.1',
                                         timeout=conf.conductor.agent_timeout + 5)

    def _cast_or_log(self, context, method: str, uuid: str) -> None:
        try:
            self._client.cast(context, method, uuid=uuid)
        except Exception as err:
            LOG.warning('Could not ask the conductor to %s %s (%s); its reconciler will',
                        method, uuid, err)

    def prepare_vgpu(self, context, uuid: str) -> None:
        self._cast_or_log(context, 'prepare_vgpu', uuid)

    def release_vgpu(self, context, uuid: str) -> None:
        self._cast_or_log(context, 'release_vgpu', uuid)

    def report(self, context, host: dict, devices: list) -> None:
        self._client.cast(context, 'report', host=host, devices=devices)

    def held_on(self, context, host: str) -> list:
        """The prepare requests of the live vGPUs with slices on ``host`` (agent start)."""
        return self._client_11.call(context, 'held_on', host=host)

    def backend_failed(self, context, uuid: str, host: str, reason: str) -> None:
        self._client_11.cast(context, 'backend_failed', uuid=uuid, host=host, reason=reason)

    def push_lease(self, context, uuid: str) -> dict:
        """Make the vGPU's gateways take its current credential (or revocation); waits.

        :raises Exception: some gateway did not take it (the caller answers 503).
        """
        return self._client_11.call(context, 'push_lease', uuid=uuid)
