"""Client side of an agent's RPC API (used by the conductor)."""

from pooling import rpc

VERSION = '1.2'


class AgentAPI:
    """Calls to the agent on one host; they wait for its answer (bounded).

    Version 1.2: every call carries ``pooling.objects.prepare.PrepareRequest``
    primitives, one per vGPU, and answers ``{vgpu uuid: answer}``;
    ``update_leases`` admits or revokes remote leases in the host's gateway.
    1.1's prepare_slices/release_slices are gone (agent and conductor upgrade
    together; an old agent answers UnsupportedVersion and its vGPUs wait).
    """

    def __init__(self, conf, transport=None):
        self._transport = transport or rpc.get_transport(conf)
        self._timeout = conf.conductor.agent_timeout

    def _client(self, host):
        return rpc.get_client(self._transport, rpc.AGENT_TOPIC, server=host,
                              timeout=self._timeout, version=VERSION)

    def prepare_vgpus(self, context, host: str, requests: list) -> dict:
        """Prepare this host's slices of each request → {uuid: {'slices', 'remote', 'error'}}."""
        return self._client(host).call(context, 'prepare_vgpus', requests=requests)

    def release_vgpus(self, context, host: str, requests: list) -> dict:
        """Release this host's slices of each request → {uuid: {'error'}}."""
        return self._client(host).call(context, 'release_vgpus', requests=requests)

    def update_leases(self, context, host: str, requests: list) -> dict:
        """Admit (credential hash set) or revoke (none) each request's lease in the gateway."""
        return self._client(host).call(context, 'update_leases', requests=requests)
