"""A small Placement client over keystoneauth1: our deployables' inventories and usage.

Only what keeping Placement in step with the pool needs: list the resource
providers that carry a trait, read one provider's inventories and
allocations, and replace its inventories with a generation check. Every call
pins microversion 1.26, the first at which ``reserved`` may equal ``total``
(a full deployable) and at which ``required`` filters providers by trait.

Credentials come from ``[placement]``; when it names no ``auth_type`` the
``[cyborg]`` service user is used (any user with Placement's admin or
service role may write inventories).
"""

from oslo_log import log as logging

from pooling.cyborg import opts

LOG = logging.getLogger(__name__)
MICROVERSION = 'placement 1.26'


class PlacementError(Exception):
    """Placement answered with an error, or could not be reached."""


class GenerationConflict(PlacementError):
    """The provider changed since we read it (its generation moved on)."""


class PlacementClient:
    def __init__(self, conf, adapter=None):
        self.conf = conf
        self._adapter = adapter

    @property
    def adapter(self):
        if self._adapter is None:
            self._adapter = opts.service_adapter(self.conf, opts.PLACEMENT_GROUP)
        return self._adapter

    def _request(self, method, path, **kwargs):
        try:
            return self.adapter.request(path, method, raise_exc=False,
                                        headers={'OpenStack-API-Version': MICROVERSION},
                                        **kwargs)
        except Exception as err:  # keystoneauth connection, catalog and auth failures
            raise PlacementError('%s %s: %s' % (method, path, err)) from err

    def _call(self, method, path, ok, **kwargs):
        resp = self._request(method, path, **kwargs)
        if resp.status_code == 409 and 'placement.concurrent_update' in resp.text:
            raise GenerationConflict('%s %s: %s' % (method, path, resp.text[:300]))
        if resp.status_code not in ok:
            raise PlacementError('%s %s -> %s %s' % (method, path, resp.status_code,
                                                      resp.text[:300]))
        return resp.json()

    def providers(self, trait: str) -> list[dict]:
        """Every resource provider having ``trait`` (uuid, name, generation, parents)."""
        path = '/resource_providers?required=%s' % trait
        resp = self._request('GET', path)
        # NOTE: a trait nobody created yet (Cyborg creates ours with our first
        # deployable) is a 400 in Placement; no provider has it.
        if resp.status_code == 400 and 'No such trait' in resp.text:
            return []
        if resp.status_code != 200:
            raise PlacementError('GET %s -> %s %s' % (path, resp.status_code, resp.text[:300]))
        return resp.json()['resource_providers']

    def inventories(self, rp_uuid: str) -> tuple[int, dict]:
        """(generation, {resource class: inventory}) of one provider."""
        body = self._call('GET', '/resource_providers/%s/inventories' % rp_uuid, (200,))
        return body['resource_provider_generation'], body['inventories']

    def allocations(self, rp_uuid: str) -> tuple[int, dict]:
        """(generation, {consumer uuid: {resource class: amount}}) on one provider."""
        body = self._call('GET', '/resource_providers/%s/allocations' % rp_uuid, (200,))
        return body['resource_provider_generation'], {
            consumer: a['resources'] for consumer, a in body['allocations'].items()}

    def set_inventories(self, rp_uuid: str, generation: int, inventories: dict) -> int:
        """Replace the provider's inventories; returns its new generation.

        :raises GenerationConflict: someone (Cyborg's conductor, Nova) wrote the
            provider since ``generation``: read again and decide again.
        """
        body = self._call('PUT', '/resource_providers/%s/inventories' % rp_uuid, (200,),
                          json={'resource_provider_generation': generation,
                                'inventories': inventories})
        return body['resource_provider_generation']
