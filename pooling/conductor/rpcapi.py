"""Client side of the conductor's RPC API (used by pooling-api and agents)."""

from pooling import rpc


class ConductorAPI:
    """Casts (fire and forget): the conductor persists and drives state itself."""

    def __init__(self, conf, transport=None):
        self._transport = transport or rpc.get_transport(conf)
        self._client = rpc.get_client(self._transport, rpc.CONDUCTOR_TOPIC)

    def prepare_vgpu(self, context, uuid: str) -> None:
        self._client.cast(context, 'prepare_vgpu', uuid=uuid)

    def release_vgpu(self, context, uuid: str) -> None:
        self._client.cast(context, 'release_vgpu', uuid=uuid)

    def report(self, context, host: dict, devices: list) -> None:
        self._client.cast(context, 'report', host=host, devices=devices)

    def heartbeat(self, context, host: str) -> None:
        self._client.cast(context, 'heartbeat', host=host)
