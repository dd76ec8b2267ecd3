"""The agent side of the platform hook: which vGPUs reach which drivers, and what comes back."""

import types

from pooling.agent import platforms
from pooling_drivers.platforms import fake
from tests.unit.platforms.test_base import vgpu


def endpoint(*drivers, host='h1'):
    conf = types.SimpleNamespace(agent=types.SimpleNamespace(host=host))
    return platforms.PlatformEndpoint(conf, drivers=list(drivers))


def test_only_vgpus_consumed_here_and_served_reach_the_driver():
    book = {}
    ep = endpoint(fake.FakePlatform({'book': book}))
    here = vgpu()
    elsewhere = vgpu(uuid='u-2', consumer={'platform': 'fake', 'host': 'h9', 'id': 'c'})
    other_platform = vgpu(uuid='u-3', consumer={'platform': 'vmware', 'host': 'h1', 'id': 'c'})
    answers = ep.platforms_attach(None, [here, elsewhere, other_platform])
    assert answers == {here['uuid']: [f'fake:{here["uuid"]}'], 'u-3': []}
    assert list(book) == [here['uuid']]
    assert ep.platforms_detach(None, [here]) == {here['uuid']: []}
    assert ep.platforms_detach(None, [here]) == {here['uuid']: []} and book == {}


def test_a_failing_driver_answers_an_error_for_that_vgpu_only():
    ep = endpoint(fake.FakePlatform({'refuse': ['c1']}))
    good = vgpu(uuid='u-ok', consumer={'platform': 'fake', 'host': 'h1', 'id': 'c2'})
    answers = ep.platforms_attach(None, [vgpu(), good])
    assert answers[vgpu()['uuid']] == {'error': "fake: no consumer 'c1'"}
    assert answers['u-ok'] == ['fake:u-ok']


def test_a_bad_vgpu_dict_is_skipped_not_fatal():
    ep = endpoint(fake.FakePlatform())
    assert ep.platforms_attach(None, [{'uuid': 'x', 'slices': [{'index': 0}]}, vgpu()]) == {
        vgpu()['uuid']: [f'fake:{vgpu()["uuid"]}']}


def test_sync_reports_what_each_driver_repaired():
    book = {}
    ep = endpoint(fake.FakePlatform({'book': book}))
    ep.platforms_attach(None, [vgpu(uuid='gone')])
    drifts = ep.platforms_sync(None, [vgpu()])
    assert {(d['vgpu'], d['action']) for d in drifts} == {('gone', 'repaired'),
                                                         (vgpu()['uuid'], 'repaired')}
    assert list(book) == [vgpu()['uuid']]


def test_nova_consumers_never_wait_for_an_agent():
    by_host = platforms.PlatformNotifier._by_consumer_host(
        [vgpu(), vgpu(uuid='n', consumer={'platform': 'nova', 'host': 'h1', 'id': 's'})],
        {'h1'})
    assert [v['uuid'] for v in by_host['h1']] == [vgpu()['uuid']]


def test_unknown_platform_driver_is_an_error_at_start():
    from oslo_config import cfg

    conf = cfg.ConfigOpts()
    conf.register_opts([cfg.StrOpt('host', default='h1')], group='agent')
    from pooling.conf import platforms as platforms_conf

    platforms_conf.register_opts(conf)
    conf.set_override('enabled', ['no-such-platform'], group='platforms')
    try:
        platforms.load_drivers(conf)
    except ValueError as exc:
        assert 'no-such-platform' in str(exc)
    else:
        raise AssertionError('an unknown driver must stop the agent')
