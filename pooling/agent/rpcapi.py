"""Client side of an agent's RPC API (used by the conductor)."""

from pooling import rpc


class AgentAPI:
    """Calls to the agent on one host; they wait for its answer (bounded).

    Version 1.1: prepare_slices/release_slices replace the one-slice calls of 1.0.
    """

    def __init__(self, conf, transport=None):
        self._transport = transport or rpc.get_transport(conf)
        self._timeout = conf.conductor.agent_timeout

    def _client(self, host):
        return rpc.get_client(self._transport, rpc.AGENT_TOPIC, server=host,
                              timeout=self._timeout, version='1.1')

    def prepare_slices(self, context, host: str, items: list) -> list:
        """Prepare many slices on ``host``: [{'vgpu', 'slice'}] → one answer each."""
        return self._client(host).call(context, 'prepare_slices', items=items)

    def release_slices(self, context, host: str, items: list) -> list:
        return self._client(host).call(context, 'release_slices', items=items)
