"""Locating a consumer before its claim: the agent's answer, the API's mapping to 400/409/503,
and which claims ask at all."""

import time
import types

import oslo_messaging as messaging
import pytest

from pooling import claims
from pooling import exception
from pooling import locate
from pooling import scheduler
from pooling.agent import platforms
from pooling_drivers.platforms import base


class _Vms(base.PlatformDriver):
    """A stand-in vmware driver: ``{vm id: host}``; ``raise`` for ids that raise."""

    name = 'vmware'
    platforms = ('vmware',)

    def locate(self, consumer):
        outcome = self.options['vms'][consumer.id]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def attach(self, request):
        raise NotImplementedError

    def detach(self, request, attachment=None):
        raise NotImplementedError


def _endpoint(vms):
    conf = types.SimpleNamespace(agent=types.SimpleNamespace(host='vc1'))
    return platforms.PlatformEndpoint(conf, drivers=[_Vms({'vms': vms})])


class _Locator(locate.ConsumerLocator):
    def __init__(self, ask, timeout=3.0):
        super().__init__(types.SimpleNamespace(api=types.SimpleNamespace(
            consumer_locate_timeout=timeout)))
        self.ask, self.asked = ask, []

    def _ask(self, context, consumer):
        self.asked.append(consumer['id'])
        return self.ask(context, consumer)


def _vm(ident):
    return {'platform': 'vmware', 'host': 'vc1', 'id': ident}


VMS = {'vm-1': 'esx-1', 'vm-2': base.ConsumerNotFoundError('no VM vm-2'),
       'bad': base.InvalidRequestError('not a moref'),
       'orphan': base.ConsumerStateError('on no ESXi host'),
       'vc-down': base.PlatformUnavailableError('vCenter vc1 unreachable')}


@pytest.mark.parametrize('ident,kind', [('vm-1', 'ok'), ('vm-2', 'not_found'),
                                        ('bad', 'invalid'), ('orphan', 'nowhere'),
                                        ('vc-down', 'unavailable')])
def test_the_agent_answers_what_its_driver_says(ident, kind):
    answer = _endpoint(VMS).platforms_locate(None, _vm(ident))
    assert answer['kind'] == kind
    assert answer['host'] == ('esx-1' if kind == 'ok' else None)


def test_a_platform_no_driver_serves_runs_on_its_own_host():
    answer = _endpoint(VMS).platforms_locate(None, {'platform': 'container', 'host': 'vc1',
                                                    'id': 'web'})
    assert answer == {'kind': 'ok', 'host': None, 'reason': ''}


@pytest.mark.parametrize('ident,error,status', [
    ('vm-2', exception.UnknownConsumer, 400), ('bad', exception.UnknownConsumer, 400),
    ('orphan', exception.Conflict, 409), ('vc-down', exception.ServiceUnavailable, 503)])
def test_the_api_maps_each_answer_to_a_status(ident, error, status):
    locator = _Locator(_endpoint(VMS).platforms_locate)
    assert locator.locate(None, _vm('vm-1')) == 'esx-1'
    with pytest.raises(error) as caught:
        locator.locate(None, _vm(ident))
    assert caught.value.code == status


def test_a_silent_agent_is_a_503_with_retry_after_and_an_old_one_no_location():
    def silent(context, consumer):
        raise messaging.MessagingTimeout('no reply')
    with pytest.raises(exception.ServiceUnavailable, match='did not say within 3 s') as caught:
        _Locator(silent).locate(None, _vm('vm-1'))
    assert caught.value.headers == [('Retry-After', '5')]

    def old(context, consumer):
        raise messaging.UnsupportedVersion('1.1')
    assert _Locator(old).locate(None, _vm('vm-1')) is None


def _service(locator):
    model = scheduler.PoolModel()
    model.add_host('esx-1', fabric='f', platform='vmware')
    model.add_host('vc1', fabric='f')
    service = claims.ClaimService(types.SimpleNamespace(), locator=locator)
    service._model, service._loaded_at = model, time.monotonic()
    return service


def test_only_consumers_of_a_platform_that_discovered_hosts_are_located():
    locator = _Locator(_endpoint(VMS).platforms_locate)
    service = _service(locator)
    spec = {'consumer': _vm('vm-1'), 'compute_milli': 100, 'memory_mb': 1,
            'locality': 'remote-allowed'}
    located = service._located(None, spec)
    assert located['consumer_location'] == 'esx-1'
    assert claims.to_request(located).consumer_host == 'esx-1'
    container = dict(spec, consumer={'platform': 'container', 'host': 'vc1', 'id': 'web'})
    assert service._located(None, container) is container
    assert locator.asked == ['vm-1']
    assert claims.to_request(container).consumer_host == 'vc1'
