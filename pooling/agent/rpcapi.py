"""Client side of an agent's RPC API (used by the conductor)."""

from pooling import rpc


class AgentAPI:
    """Calls to the agent on one host; they wait for its answer (bounded)."""

    def __init__(self, conf, transport=None):
        self._transport = transport or rpc.get_transport(conf)
        self._timeout = conf.conductor.agent_timeout

    def _client(self, host):
        return rpc.get_client(self._transport, rpc.AGENT_TOPIC, server=host,
                              timeout=self._timeout)

    def prepare_slice(self, context, host: str, vgpu: dict, slice_: dict) -> dict:
        return self._client(host).call(context, 'prepare_slice', vgpu=vgpu, slice=slice_)

    def release_slice(self, context, host: str, vgpu: dict, slice_: dict) -> None:
        self._client(host).call(context, 'release_slice', vgpu=vgpu, slice=slice_)
