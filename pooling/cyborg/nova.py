"""Server names from Nova, so that the vGPU of a bound ARQ is named as the tenant's server.

A tenant knows her server by its name; Cyborg's ARQ carries only the instance
uuid. The reconciler asks Nova (``GET /servers/{uuid}`` → ``server.name``)
with keystoneauth1, the ``[nova]`` adapter options and, when ``[nova]`` names
no ``auth_type``, the ``[cyborg]`` service user (it must be allowed to show
servers of every project: Nova's ``os_compute_api:servers:show``, admin by
default).

Nova is a nicety here, never a dependency: a failed or slow answer only
leaves the vGPU named after the instance uuid until a later pass (see
``ServerNames``), and every request is bounded by ``[nova] timeout``.
"""

from oslo_log import log as logging

from pooling.cyborg import opts

LOG = logging.getLogger(__name__)


class NovaError(Exception):
    """Nova answered with an error, or could not be reached."""


class ServerGone(NovaError):
    """Nova does not know the server (404): deleted, or not visible to our user."""


class NovaClient:
    def __init__(self, conf, adapter=None):
        self.conf = conf
        self._adapter = adapter
        #: Whether the last look-up failed (so that an outage is logged once, not every pass).
        self.failing = False

    @property
    def adapter(self):
        if self._adapter is None:
            self._adapter = opts.service_adapter(self.conf, opts.NOVA_GROUP)
        return self._adapter

    def server_name(self, instance_uuid: str) -> str:
        """The name of server ``instance_uuid``.

        :raises ServerGone: Nova answers 404.
        :raises NovaError: any other answer, a timeout, no credentials or no endpoint.
        """
        path = '/servers/%s' % instance_uuid
        timeout = self.conf[opts.NOVA_GROUP].timeout or opts.NOVA_TIMEOUT
        try:
            resp = self.adapter.get(path, raise_exc=False, timeout=timeout)
        except Exception as err:  # keystoneauth connection, auth and catalog failures
            raise NovaError('GET %s: %s' % (path, err)) from err
        if resp.status_code == 404:
            raise ServerGone('GET %s -> 404' % path)
        if resp.status_code != 200:
            raise NovaError('GET %s -> %s %s' % (path, resp.status_code, resp.text[:300]))
        try:
            name = resp.json()['server']['name']
        except (ValueError, KeyError, TypeError) as err:
            raise NovaError('GET %s: no server name in the answer' % path) from err
        if not isinstance(name, str):
            raise NovaError('GET %s: no server name in the answer' % path)
        return name


class ServerNames:
    """One sync pass's look-ups: ``names(instance_uuid)`` → the server's name, or None.

    After the first failure other than a 404 the pass asks Nova no more (each
    request could otherwise wait a timeout, for every vGPU, every pass); the
    next pass tries again. A 404 is about one server only.
    """

    def __init__(self, client: NovaClient | None) -> None:
        self.client = client
        self.down = client is None
        self._seen: dict[str, str | None] = {}

    def __call__(self, instance_uuid: str) -> str | None:
        if instance_uuid in self._seen:
            return self._seen[instance_uuid]
        if self.down:
            return None
        name = None
        try:
            name = self.client.server_name(instance_uuid)[:255] or None
        except ServerGone as err:
            LOG.debug('Naming the vGPU of instance %s: %s', instance_uuid, err)
        except Exception as err:
            self.down = True
            log = LOG.debug if self.client.failing else LOG.warning
            self.client.failing = True
            log('Cannot ask Nova for server names (the vGPUs of Nova servers are named after '
                'their instance uuid until it answers): %s', err)
            return None
        if self.client.failing:
            LOG.info('Nova answers again: vGPUs named after their instance get its server name')
            self.client.failing = False
        self._seen[instance_uuid] = name
        return name
