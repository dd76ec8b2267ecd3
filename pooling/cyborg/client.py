"""A small Cyborg v2 client over keystoneauth1, with the pool's service credentials.

Only what the publisher and the ARQ reconciler need: device profiles (list,
create, delete) and ARQs (list, delete). Cyborg answers ARQ deletes of bound
ARQs only with a service token, so every request carries our token as both the
user and the service token (our service user holds the ``service`` role).
"""

from oslo_log import log as logging

from pooling.cyborg import opts

LOG = logging.getLogger(__name__)
GROUP = opts.GROUP
# Cyborg 2.0 is what Nova speaks; 2.1+ adds ARQ project_id in listings.
MICROVERSION = 'accelerator 2.3'


class CyborgError(Exception):
    """Cyborg answered with an error, or could not be reached."""


class CyborgClient:
    def __init__(self, conf, adapter=None):
        self.adapter = adapter if adapter is not None else opts.load_adapter(conf, GROUP)

    def _call(self, method, path, ok, **kwargs):
        headers = {'OpenStack-API-Version': MICROVERSION}
        try:
            headers['X-Service-Token'] = self.adapter.get_token()
            resp = self.adapter.request(path, method, raise_exc=False, headers=headers,
                                        **kwargs)
        except Exception as err:  # keystoneauth connection and auth failures
            raise CyborgError('%s %s: %s' % (method, path, err)) from err
        if resp.status_code not in ok:
            raise CyborgError('%s %s -> %s %s' % (method, path, resp.status_code,
                                                   resp.text[:300]))
        return resp.json() if resp.content else None

    def list_device_profiles(self) -> list[dict]:
        return self._call('GET', '/device_profiles', (200,))['device_profiles']

    def create_device_profile(self, name: str, groups: list, description: str = '') -> dict:
        body = [{'name': name, 'groups': groups, 'description': description}]
        return self._call('POST', '/device_profiles', (201,), json=body)

    def delete_device_profile(self, uuid: str) -> None:
        self._call('DELETE', '/device_profiles/%s' % uuid, (204, 404))

    def list_arqs(self) -> list[dict]:
        return self._call('GET', '/accelerator_requests', (200,))['arqs']

    def delete_arqs(self, uuids) -> None:
        self._call('DELETE', '/accelerator_requests?arqs=%s' % ','.join(uuids), (204, 404))
