"""Multi-card vGPUs by the links the agents report (MariaDB, RabbitMQ, a real agent).

The host is the sim driver's stand-in for an 8-card board with two NVLink islands
(``[agent] sim_islands = 0-3,4-7``): the agent reports its links through the conductor into
the DB (``hosts.links``), the claim service loads them into its model, and the API takes a
``link`` demand from microversion 1.4.
"""

import pytest

from pooling import context as pooling_context
from pooling.objects import host as host_obj
from tests.functional import fixtures

HOST = 'gpu-nv'
V14 = {'OpenStack-API-Version': 'accelerator-pool 1.4'}


@pytest.fixture
def board(mysql_db):
    s = fixtures.Stack(mysql_db.url, [(HOST, 'fab-1', 'nvidia:H100-SXM5-80GB:81920:132:8')],
                       overrides={('agent', 'sim_islands'): '0-3,4-7'}).start()
    yield s
    s.stop()


def _islands(links) -> list[set]:
    """The NVLink components of the stored links."""
    islands: list[set] = []
    for a, b, kind in links:
        if kind != 'nvlink':
            continue
        hit = [i for i in islands if a in i or b in i]
        merged = {a, b}.union(*hit)
        islands = [i for i in islands if i not in hit] + [merged]
    return islands


def _cards(client, n, **extra):
    body = {'compute_percent': 100, 'memory_mb': 81920 if n > 1 else 1024, 'count': n, **extra}
    return client.post('/v1/vgpus', body, headers=V14)


def _island_of(islands, vgpu) -> int:
    found = {next(i for i, isl in enumerate(islands) if s['device_uuid'] in isl)
             for s in vgpu['slices']}
    assert len(found) == 1, 'vGPU %s straddles islands: %s' % (vgpu['uuid'], vgpu['slices'])
    return found.pop()


def test_four_card_vgpus_stay_in_one_nvlink_island(board):
    c = board.client
    links = host_obj.topology(pooling_context.get_admin_context())[HOST]
    islands = _islands(links)
    assert sorted(len(i) for i in islands) == [4, 4], links
    devices = {d['uuid'] for d in c.get('/v1/devices').json['devices']}
    assert set().union(*islands) == devices

    # One card taken in one island: a 4-card vGPU must take the whole other island (the
    # cards in device order would straddle).
    single = _cards(c, 1)
    assert single.status_int == 201, single.text
    first_island = _island_of(islands, single.json)
    four = _cards(c, 4)
    assert four.status_int == 201, four.text
    assert four.json['link'] is None
    assert _island_of(islands, four.json) != first_island

    # Once the single card is gone, the next 4-card vGPU takes the first island whole.
    assert c.delete('/v1/vgpus/' + single.json['uuid']).status_int == 202
    board.wait_state(single.json['uuid'], ('DELETED',))
    other = _cards(c, 4, link='nvlink')
    assert other.status_int == 201, other.text
    assert other.json['link'] == 'nvlink'
    assert _island_of(islands, other.json) == first_island


def test_a_link_no_host_can_meet_is_a_409_that_says_so(board):
    c = board.client
    five = _cards(c, 5, link='nvlink')
    assert five.status_int == 409, five.text
    detail = five.json['errors'][0]['detail']
    assert 'nvlink' in detail, detail
    # The same vGPU without the demand fits (eight free cards): the link was the reason.
    loose = _cards(c, 5)
    assert loose.status_int == 201, loose.text


def test_link_needs_1_4_and_several_cards(board):
    c = board.client
    body = {'compute_percent': 100, 'memory_mb': 81920, 'count': 2, 'link': 'nvlink'}
    old = c.post('/v1/vgpus', body)
    assert old.status_int == 400 and '1.4' in old.json['errors'][0]['detail']
    one = _cards(c, 1, link='nvlink')
    assert one.status_int == 400 and '2 or more' in one.json['errors'][0]['detail']
    bad = _cards(c, 2, link='infiniband')
    assert bad.status_int == 400
    assert c.get('/v1/vgpus', headers=V14).json['vgpus'] == []


def test_a_profile_carries_its_link(board):
    c = board.client
    islands = _islands(host_obj.topology(pooling_context.get_admin_context())[HOST])
    body = {'name': 'nv4', 'compute_percent': 100, 'memory_mb': 81920, 'count': 4,
            'link': 'nvlink'}
    old = c.post('/v1/profiles', body)
    assert old.status_int == 400 and '1.4' in old.json['errors'][0]['detail']
    one = c.post('/v1/profiles', {**body, 'count': 1}, headers=V14)
    assert one.status_int == 400 and '2 or more' in one.json['errors'][0]['detail']
    made = c.post('/v1/profiles', body, headers=V14)
    assert made.status_int == 201, made.text
    assert made.json['link'] == 'nvlink'
    assert 'link' not in c.get('/v1/profiles/nv4').json  # hidden below 1.4
    firsts = []
    for _ in range(2):
        vgpu = c.post('/v1/vgpus', {'profile': 'nv4'}, headers=V14)
        assert vgpu.status_int == 201, vgpu.text
        assert vgpu.json['link'] == 'nvlink'
        firsts.append(_island_of(islands, vgpu.json))
    assert sorted(firsts) == [0, 1]
    # Both islands are taken: a third is refused for the link's sake or for capacity alike.
    assert c.post('/v1/vgpus', {'profile': 'nv4'}, headers=V14).status_int == 409
