"""The pooling.platforms contract: requests built from vGPU dicts, and the fake driver."""

import pytest
from stevedore import driver as stevedore_driver

from pooling_drivers.platforms import base
from pooling_drivers.platforms import fake


def vgpu(**over):
    data = {
        'uuid': 'b7e0c1de-0000-4000-8000-000000000001', 'project_id': 'p1',
        'consumer': {'platform': 'fake', 'host': 'h1', 'id': 'c1'},
        'isolation': 'soft', 'locality': 'local', 'compute_milli': 250, 'memory_mb': 4096,
        'slices': [{'index': 0, 'device_uuid': 'GPU-1', 'host': 'h1', 'compute_milli': 250,
                    'memory_mb': 4096}],
        'attachment': {'slices': [{'device_uuid': 'GPU-1', 'isolation': 'soft',
                                   'plugin': 'hami', 'visible_uuid': 'GPU-1',
                                   'env': {'CUDA_DEVICE_MEMORY_LIMIT_0': '4096m'},
                                   'devices': ['/dev/nvidia0'],
                                   'mounts': [{'host': '/usr/lib/hami', 'container': '/hami',
                                               'readonly': True}]}],
                       'remote': None}}
    data.update(over)
    return data


def test_request_from_vgpu_joins_slices_and_attachments():
    req = base.PlatformRequest.from_vgpu(vgpu())
    assert req.consumer == base.Consumer('fake', 'h1', 'c1')
    assert not req.is_remote
    (s,) = req.slices
    assert s.device_nodes == ('/dev/nvidia0',)
    assert s.env == {'CUDA_DEVICE_MEMORY_LIMIT_0': '4096m'}
    assert s.mounts == (base.Mount('/usr/lib/hami', '/hami', True),)


def test_remote_token_not_in_repr():
    req = base.PlatformRequest.from_vgpu(vgpu(attachment={
        'slices': [{}], 'remote': {'protocol': 'sim', 'endpoints': ['h2:14833'],
                                   'token': 's3cret'}}))
    assert req.is_remote and req.remote.token == 's3cret'
    assert 's3cret' not in repr(req)


def test_bad_vgpu_is_a_clear_error():
    with pytest.raises(base.InvalidRequestError, match='bad slice'):
        base.PlatformRequest.from_vgpu(vgpu(slices=[{'index': 0}]))
    with pytest.raises(base.InvalidRequestError):
        base.PlatformRequest.from_vgpu({})


def test_attachment_round_trip():
    att = base.PlatformAttachment('cdi', 'u', 'k=u', {'path': '/x'})
    assert base.PlatformAttachment.from_dict(att.to_dict()) == att


def test_fake_is_an_entry_point_and_idempotent():
    book = {}
    drv = stevedore_driver.DriverManager('pooling.platforms', 'fake',
                                         invoke_on_load=True,
                                         invoke_args=({'book': book},)).driver
    assert isinstance(drv, fake.FakePlatform)
    req = base.PlatformRequest.from_vgpu(vgpu())
    first = drv.attach(req)
    assert drv.attach(req) == first and list(book) == [req.vgpu_uuid]
    drv.detach(req)
    drv.detach(req)
    assert book == {}


def test_fake_reconcile_removes_strays_and_adds_missing():
    book = {'stray': base.PlatformAttachment('fake', 'stray', 'fake:stray')}
    drv = fake.FakePlatform({'book': book})
    req = base.PlatformRequest.from_vgpu(vgpu())
    drifts = drv.reconcile([req])
    assert {(d.vgpu_uuid, d.action) for d in drifts} == {('stray', 'repaired'),
                                                         (req.vgpu_uuid, 'repaired')}
    assert list(book) == [req.vgpu_uuid]


def test_fake_refusal_and_discover_unsupported():
    drv = fake.FakePlatform({'refuse': ['c1']})
    with pytest.raises(base.ConsumerNotFoundError):
        drv.attach(base.PlatformRequest.from_vgpu(vgpu()))
    with pytest.raises(base.PlatformNotSupportedError, match='does not discover'):
        drv.discover()


def test_remote_lease_document_of_the_data_plane_is_read_and_kept_whole():
    doc = {'version': 1, 'vgpu_uuid': 'u', 'protocol': 'sim',
           'endpoints': [{'gateway': '10.0.0.7:14830', 'lease_id': 'l1', 'cards': 1}],
           'token': 't' * 43, 'expires_at': '2026-12-02T23:59:00Z', 'ca_cert': 'PEM'}
    lease = base.RemoteLease.from_dict(doc)
    assert lease.endpoints == ('10.0.0.7:14830',) and lease.expires_at == doc['expires_at']
    assert lease.document == doc


def test_slice_carries_the_pci_address_when_given():
    data = vgpu()
    data['slices'][0]['pci_address'] = '0000:41:00.0'
    assert base.PlatformRequest.from_vgpu(data).slices[0].pci_address == '0000:41:00.0'
