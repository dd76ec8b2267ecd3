"""Where a vGPU's consumer runs now, asked of its platform before the claim.

A consumer is ``{platform, host, id}``, and the scheduler places a vGPU against ``host``: a
local vGPU on its cards, a remote one served to it from another host of its fabric. For most
platforms ``host`` is where the workload runs. Not for vSphere: a VM's consumer names its
vCenter (whose agent runs the ``vmware`` platform driver), while the VM runs on one of the
vCenter's ESXi hosts, which that agent enters into the pool as hosts with their cards
(``pooling.agent.discovered``). A card of the VM's own ESXi host can be attached to it; a card
of another ESXi host is of no use to it (ESXi runs no remoting server).

So for a consumer of a platform that discovered hosts of the pool, the claim first asks the
agent of the consumer's host, through the platform endpoint's ``platforms_locate`` (agent
platforms RPC 1.1), which asks its drivers' :meth:`PlatformDriver.locate`. The answer becomes
the scheduler's consumer host and is recorded on the vGPU (``attachment.consumer_location``).

The call is bounded (``[api] consumer_locate_timeout``) because an API thread waits on it:
* no answer in time → :class:`~pooling.exception.ServiceUnavailable` (503 with Retry-After).
  Chosen over 409 because nothing about the request or the pool is wrong: the vCenter or the
  agent is slow or restarting, and the same request succeeds later; clients and load balancers
  retry a 503 on their own, and nothing was claimed;
* the consumer does not exist → :class:`~pooling.exception.UnknownConsumer` (400);
* the consumer exists but runs nowhere (an orphaned VM) → ``Conflict`` (409);
* an agent older than the call → no location: the vGPU is placed against the consumer's host
  as before, which keeps it off every discovered host's cards (remote only).
"""

from __future__ import annotations

import dataclasses

from oslo_log import log as logging
import oslo_messaging as messaging

from pooling import exception
from pooling import rpc

LOG = logging.getLogger(__name__)

#: The agent's platforms RPC namespace and the version that brought ``platforms_locate``.
RPC_NAMESPACE = 'platforms'
LOCATE_VERSION = '1.1'

#: Answer kinds of ``platforms_locate``.
OK, NOT_FOUND, INVALID, NOWHERE, UNAVAILABLE = 'ok', 'not_found', 'invalid', 'nowhere', \
    'unavailable'


@dataclasses.dataclass(frozen=True)
class Location:
    """What the consumer's agent answered: ``host`` (None = the consumer's own host) or why not.

    Crosses RPC as :meth:`to_primitive`'s dict.
    """

    kind: str = OK
    host: str | None = None
    reason: str = ''

    def to_primitive(self) -> dict:
        return {'kind': self.kind, 'host': self.host, 'reason': self.reason}

    @classmethod
    def from_primitive(cls, data) -> Location:
        if not isinstance(data, dict) or data.get('kind') not in (
                OK, NOT_FOUND, INVALID, NOWHERE, UNAVAILABLE):
            return cls(UNAVAILABLE, reason='malformed answer %r' % (data,))
        host = data.get('host')
        return cls(data['kind'], str(host) if host else None, str(data.get('reason') or ''))


class ConsumerLocator:
    """The API side: asks the agent of a consumer's host where the consumer runs."""

    def __init__(self, conf, transport=None):
        self.conf = conf
        self._transport = transport

    def _client(self, host: str):
        if self._transport is None:
            self._transport = rpc.get_transport(self.conf)
        client = rpc.get_client(self._transport, rpc.AGENT_TOPIC, server=host,
                                timeout=self.conf.api.consumer_locate_timeout,
                                version=LOCATE_VERSION)
        return client.prepare(namespace=RPC_NAMESPACE)

    def locate(self, context, consumer: dict) -> str | None:
        """The pool host ``consumer`` runs on now, or None for its own ``host``.

        :raises UnknownConsumer: the platform has no such consumer (400).
        :raises Conflict: the consumer runs nowhere now (409).
        :raises ServiceUnavailable: no answer in time, or the platform is unreachable (503).
        """
        host = consumer.get('host')
        what = '%s consumer %s of %s' % (consumer.get('platform'), consumer.get('id'), host)
        try:
            primitive = self._ask(context, consumer)
        except (messaging.UnsupportedVersion, messaging.NoSuchMethod) as err:
            LOG.warning('The agent of %s cannot locate consumers (%s): placing the vGPU of %s '
                        'against %s itself', host, type(err).__name__, what, host)
            return None
        except messaging.MessagingTimeout:
            raise exception.ServiceUnavailable(
                reason='the agent of consumer host %s did not say within %g s where %s runs; '
                       'nothing was claimed, retry later'
                       % (host, self.conf.api.consumer_locate_timeout, what)) from None
        except messaging.MessagingException as err:
            raise exception.ServiceUnavailable(
                reason='cannot ask the agent of consumer host %s where %s runs (%s); retry '
                       'later' % (host, what, err)) from None
        return self._answer(Location.from_primitive(primitive), what)

    def _ask(self, context, consumer: dict):
        """The agent's ``platforms_locate`` answer (a :class:`Location` primitive)."""
        return self._client(consumer['host']).call(context, 'platforms_locate',
                                                   consumer=dict(consumer))

    @staticmethod
    def _answer(answer: Location, what: str) -> str | None:
        if answer.kind == OK:
            return answer.host
        if answer.kind in (NOT_FOUND, INVALID):
            raise exception.UnknownConsumer(reason='%s %s: %s' % (
                'Unknown' if answer.kind == NOT_FOUND else 'Invalid', what, answer.reason))
        if answer.kind == NOWHERE:
            raise exception.Conflict(reason='%s runs on no host now: %s' % (what, answer.reason))
        raise exception.ServiceUnavailable(
            reason='cannot tell where %s runs: %s; retry later' % (what, answer.reason))
