"""The one typed request of the prepare path: built once, sent once, rebuilt on the agent."""

import json

import pytest

from pooling.objects import prepare
from pooling_drivers.isolation import base as iso
from pooling_drivers.remoting import base as remoting


def _vgpu(consumer_host='c1', hosts=('h1',), isolation='firm', attachment=None):
    return {'uuid': 'v-1', 'project_id': 'p', 'isolation': isolation, 'count': len(hosts),
            'locality': 'remote-allowed',
            'consumer': {'platform': 'other', 'host': consumer_host, 'id': 'x'},
            'attachment': attachment,
            'slices': [{'index': i, 'host': h, 'device_uuid': 'd%d' % i,
                        'compute_milli': 250, 'memory_mb': 4096} for i, h in enumerate(hosts)]}


LEASE = prepare.Lease('l-1', 'a' * 64, '2030-01-01T00:00:00Z', 4)


def test_round_trip_through_json_gives_the_same_request():
    request = prepare.PrepareRequest.from_vgpu(_vgpu(hosts=('h1', 'h2')), LEASE)
    wire = json.loads(json.dumps(request.to_primitive()))
    assert prepare.PrepareRequest.from_primitive(wire) == request


def test_the_isolation_plugin_gets_its_own_contract_type():
    request = prepare.PrepareRequest.from_vgpu(_vgpu())
    slice_ = request.slices[0].request
    assert isinstance(slice_, iso.SliceRequest)
    assert (slice_.vgpu_uuid, slice_.device_uuid, slice_.isolation, slice_.core_percent) == (
        'v-1', 'd0', 'firm', 25)


def test_remote_only_when_the_consumer_is_elsewhere_and_only_then_a_lease():
    assert not prepare.PrepareRequest.from_vgpu(_vgpu('h1'), LEASE).remote
    assert prepare.PrepareRequest.from_vgpu(_vgpu('h1'), LEASE).lease is None
    assert prepare.PrepareRequest.from_vgpu(_vgpu('c1'), LEASE).remote


def test_remoting_request_per_host_with_lease_ids_per_host():
    request = prepare.PrepareRequest.from_vgpu(_vgpu(hosts=('h1', 'h2')), LEASE)
    assert request.hosts() == ['h1', 'h2']
    att = {'visible_uuid': 'MIG-1', 'env': {'CUDA_MPS_PIPE_DIRECTORY': '/p'}}
    remote = request.for_host('h2').remote_request('h2', [att])
    assert isinstance(remote, remoting.RemoteSliceRequest)
    assert remote.lease_id == 'l-1.1' and remote.visible_uuids == ('MIG-1',)
    assert remote.memory_mib == 4096 and remote.compute_pct == 25
    assert remote.isolation_env == {'CUDA_MPS_PIPE_DIRECTORY': '/p'}
    single = prepare.PrepareRequest.from_vgpu(_vgpu(), LEASE)
    assert single.lease_id_on('h1') == 'l-1'


def test_release_carries_what_prepare_returned():
    attachment = {'slices': [{'plugin': 'mig', 'partition': {'uuid': 'MIG-9'}}], 'remote': None}
    request = prepare.PrepareRequest.from_vgpu(_vgpu(attachment=attachment))
    back = prepare.PrepareRequest.from_primitive(request.to_primitive())
    assert back.slices[0].attachment['partition']['uuid'] == 'MIG-9'


@pytest.mark.parametrize('bad', [{'version': 99}, {'version': 1}, {'version': 1, 'vgpu_uuid': 'x',
                                                                   'slices': [{'host': 'h'}]}])
def test_a_malformed_primitive_is_a_value_error(bad):
    with pytest.raises(ValueError):
        prepare.PrepareRequest.from_primitive(bad)


def test_a_located_consumer_is_local_on_the_host_it_runs_on():
    # A vSphere VM: its consumer names the vCenter, it runs on an ESXi host (pooling.locate).
    esx = _vgpu('vc1', hosts=('esx-1',), attachment={'consumer_location': 'esx-1'})
    request = prepare.PrepareRequest.from_vgpu(esx, LEASE)
    assert (request.remote, request.lease, request.consumer_location) == (False, None, 'esx-1')
    assert prepare.is_remote(esx) is False
    served = _vgpu('vc1', hosts=('gpu-a',), attachment={'consumer_location': 'esx-1'})
    assert prepare.PrepareRequest.from_vgpu(served, LEASE).remote
    wire = json.loads(json.dumps(request.to_primitive()))
    assert prepare.PrepareRequest.from_primitive(wire) == request
