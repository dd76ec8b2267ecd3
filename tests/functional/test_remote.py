"""Remote vGPUs through the real gateway on MariaDB and RabbitMQ: leases, revocation, failover.

The device hosts' agents run the gateway and the ``fake`` remoting backend (a
loopback echo server per lease, the contract's first-class fake); the netns
tests (test_remote_netns) run the ``sim`` data plane between namespaces.
"""

import hashlib
import time

import pytest
import sqlalchemy as sa

from pooling.gateway import lease as lease_doc
from pooling.gateway import proxy
from tests.functional import fixtures

V11 = {'OpenStack-API-Version': 'accelerator-pool 1.3'}
CONSUMER = {'platform': 'other', 'host': 'cpu-1', 'id': 'job-1'}


def _remote_vgpu(stack, **extra):
    body = {'compute_percent': 25, 'memory_mb': 4096, 'locality': 'remote-required',
            'consumer': CONSUMER, **extra}
    resp = stack.client.post('/v1/vgpus', body)
    assert resp.status_int == 201, resp.text
    return stack.wait_state(resp.json['uuid'], ('ACTIVE',))


def _issue(stack, uuid, client=None):
    resp = (client or stack.client).post('/v1/vgpus/%s/lease' % uuid, headers=V11)
    assert resp.status_int == 201, resp.text
    return lease_doc.LeaseDocument.from_dict(resp.json)


def _tunnel(doc, token=None):
    return proxy.open_tunnel(doc.endpoints[0], token or doc.token,
                             proxy.client_context(doc.ca_cert), timeout=5)


def _echo(end, payload=b'ping'):
    end.send_all(payload)
    deadline = time.monotonic() + 5
    got = b''
    while len(got) < len(payload) and time.monotonic() < deadline:
        chunks = end.read()
        if chunks is None:
            break
        got += b''.join(chunks)
    return got


def _closed_within(end, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            end.send_all(b'x', timeout=0.2)
            if end.read() is None:
                return True
        except (OSError, TimeoutError):
            return True
        time.sleep(0.05)
    return False


def test_lease_is_issued_to_the_owner_only_and_cut_by_revoke_and_delete(stack):
    vgpu = _remote_vgpu(stack)
    uuid = vgpu['uuid']
    assert vgpu['slices'][0]['host'] in ('gpu-a', 'gpu-b')
    # 1.0 has no lease resource; a listing never shows a credential or its hash.
    assert stack.client.post('/v1/vgpus/%s/lease' % uuid).status_int == 404
    listing = stack.client.get('/v1/vgpus', headers=V11).text
    assert 'token' not in listing and 'sha256' not in listing
    # Another project neither sees nor gets it; a reader may not get a credential.
    other = stack.client.as_('other-project', 'member')
    assert other.post('/v1/vgpus/%s/lease' % uuid, headers=V11).status_int == 404
    reader = stack.client.as_('admin', 'reader')
    assert reader.post('/v1/vgpus/%s/lease' % uuid, headers=V11).status_int == 403

    doc = _issue(stack, uuid)
    assert len(doc.token) >= 43 and doc.protocol == 'fake'
    # The database keeps the credential's SHA-256, never the credential.
    engine = sa.create_engine(stack.db_url)
    with engine.connect() as conn:
        row = conn.execute(sa.text('SELECT * FROM vgpus WHERE uuid = :u'), {'u': uuid}).one()
    engine.dispose()
    assert row.lease_token_sha256 == hashlib.sha256(doc.token.encode()).hexdigest()
    assert doc.token not in str(tuple(row))
    shown = stack.client.get('/v1/vgpus/%s/lease' % uuid, headers=V11).json
    assert 'token' not in shown and shown['endpoints'][0]['lease_id'] == doc.endpoints[0].lease_id
    end = _tunnel(doc)
    assert _echo(end) == b'ping'
    with pytest.raises(proxy.GatewayRefused):
        _tunnel(doc, token='A' * 43)  # wrong credential

    renewed = stack.client.put('/v1/vgpus/%s/lease' % uuid, headers=V11)
    assert renewed.status_int == 200 and 'token' not in renewed.json
    assert _echo(end, b'still') == b'still'  # renewing keeps connections

    second = _issue(stack, uuid)  # a new credential replaces the old one
    with pytest.raises(proxy.GatewayRefused):
        _tunnel(doc)
    live = _tunnel(second)
    assert _echo(live) == b'ping'

    assert stack.client.delete('/v1/vgpus/%s/lease' % uuid, headers=V11).status_int == 204
    assert _closed_within(live, 1.5)
    with pytest.raises(proxy.GatewayRefused):
        _tunnel(second)

    third = _issue(stack, uuid)
    running = _tunnel(third)
    assert _echo(running) == b'ping'
    started = time.monotonic()
    assert stack.client.delete('/v1/vgpus/' + uuid).status_int == 202
    assert _closed_within(running, 3)
    stack.wait_state(uuid, ('DELETED',))
    with pytest.raises(proxy.TunnelError):
        _tunnel(third)  # replayed after DELETE
    assert time.monotonic() - started < 15


def test_a_local_vgpu_has_no_lease(stack):
    resp = stack.client.post('/v1/vgpus', {'compute_percent': 10, 'memory_mb': 1024,
                                           'locality': 'local',
                                           'consumer': {'platform': 'other', 'host': 'gpu-c',
                                                        'id': 'x'}})
    vgpu = stack.wait_state(resp.json['uuid'], ('ACTIVE',))
    assert vgpu['attachment']['remote'] is None
    conflict = stack.client.post('/v1/vgpus/%s/lease' % vgpu['uuid'], headers=V11)
    assert conflict.status_int == 409 and 'not remote' in conflict.text


def _agent_of(stack, host):
    return stack.services[host].endpoint


def test_a_backend_that_cannot_restart_moves_the_vgpu(stack):
    vgpu = _remote_vgpu(stack, models=['A100-SXM4-80GB', 'H100-SXM5-80GB'])
    old_host = vgpu['slices'][0]['host']
    doc = _issue(stack, vgpu['uuid'])
    agent = _agent_of(stack, old_host)
    agent.remote.driver.crash(doc.endpoints[0].lease_id)

    def moved():
        shown = stack.client.get('/v1/vgpus/' + vgpu['uuid'], headers=V11).json
        return shown['state'] == 'ACTIVE' and shown['moves'] and shown
    stack.wait_for(moved, 'the vGPU to move', timeout=20)
    shown = moved()
    assert shown['slices'][0]['host'] != old_host
    assert shown['moves'][0]['from'] == [old_host] and 'backend' in shown['moves'][0]['reason']
    # The owner's credential stays; a fresh lease names the new gateway.
    new_doc = _issue(stack, vgpu['uuid'])
    assert new_doc.endpoints[0].lease_id != doc.endpoints[0].lease_id
    assert _echo(_tunnel(new_doc)) == b'ping'
    assert agent.remote.lease_ids() == {}  # the old host stopped what it ran


@pytest.fixture
def quick_stack(mysql_db):
    s = fixtures.Stack(mysql_db.url, [
        ('gpu-a', 'fab-1', 'nvidia:A100-SXM4-80GB:81920:108:1'),
        ('gpu-b', 'fab-1', 'nvidia:A100-SXM4-80GB:81920:108:1'),
        ('gpu-t', 'fab-1', 'nvidia:T4:15360:40:1'),
        ('cpu-1', 'fab-1', '')],
        overrides={('conductor', 'host_down_after'): 3,
                   ('conductor', 'agent_timeout'): 3}).start()
    yield s
    s.stop()


def test_a_dead_host_moves_its_remote_vgpus_or_fails_them_with_a_reason(quick_stack):
    stack = quick_stack
    moving = _remote_vgpu(stack, models=['A100-SXM4-80GB'], memory_mb=40960)
    where = moving['slices'][0]['host']
    other = 'gpu-b' if where == 'gpu-a' else 'gpu-a'
    # The only T4 dies too: a vGPU that needs one fits nowhere afterwards.
    stranded = _remote_vgpu(stack, models=['T4'], memory_mb=4096)
    assert stranded['slices'][0]['host'] == 'gpu-t'
    local = stack.client.post('/v1/vgpus', {
        'compute_percent': 10, 'memory_mb': 1024, 'locality': 'local',
        'models': ['A100-SXM4-80GB'], 'consumer': {'platform': 'other', 'host': where,
                                                   'id': 'l'}})
    assert local.status_int == 201, local.text
    stack.wait_state(local.json['uuid'], ('ACTIVE',))
    killed = time.monotonic()
    stack.stop_service(where)  # the agent, its gateway and its backends go
    stack.stop_service('gpu-t')

    def show(uuid):
        return stack.client.get('/v1/vgpus/' + uuid, headers=V11).json

    stack.wait_for(lambda: show(moving['uuid'])['moves'] and
                   show(moving['uuid'])['state'] == 'ACTIVE', 'the vGPU to move', timeout=30)
    stack.wait_for(lambda: show(stranded['uuid'])['state'] == 'ERROR',
                   'the stranded vGPU to fail', timeout=30)
    assert time.monotonic() - killed < 30  # host_down_after 3 s, checked every second
    assert stack.client.get('/v1/hosts/' + where).json['state'] == 'down'
    moved = show(moving['uuid'])
    assert moved['slices'][0]['host'] == other
    assert moved['moves'][0]['from'] == [where] and moved['moves'][0]['to'] == other
    reason = show(stranded['uuid'])['state_reason']
    assert 'gpu-t stopped heartbeating' in reason and 'fits' in reason
    shown_local = show(local.json['uuid'])
    assert shown_local['state'] == 'ACTIVE' and shown_local['health'] == 'degraded'
    # A rerun works on the new host with a fresh lease, no other user action.
    doc = _issue(stack, moving['uuid'])
    assert _echo(_tunnel(doc)) == b'ping'
    # The stranded vGPU gave its capacity back.
    t4 = [d for d in stack.client.get('/v1/devices').json['devices'] if d['model'] == 'T4'][0]
    assert t4['used']['memory_mb'] == 0
    # The host comes back: its local vGPU is no longer degraded.
    stack.start_agent(where, 'fab-1', 'nvidia:A100-SXM4-80GB:81920:108:1')
    stack.wait_for(lambda: show(local.json['uuid'])['health'] == 'ok', 'the host to come back')
