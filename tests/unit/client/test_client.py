"""The HTTP client: microversion header, error bodies, name lookups."""

from keystoneauth1 import session
import pytest

from poolingclient import exceptions
from poolingclient.v1 import client
from tests.unit.client import fakes


def _client(endpoint=fakes.ENDPOINT, microversion="1.0"):
    return client.Client(session.Session(), endpoint=endpoint, microversion=microversion)


def test_sends_microversion_header(requests_mock):
    requests_mock.get(fakes.V1 + "/pools", json={"pools": []})
    assert _client(microversion="1.3").list_pools() == []
    sent = requests_mock.last_request.headers
    assert sent["OpenStack-API-Version"] == "accelerator-pool 1.3"
    assert sent["Accept"] == "application/json"


@pytest.mark.parametrize(
    "endpoint", [fakes.ENDPOINT + "/", fakes.ENDPOINT + "/v1", fakes.ENDPOINT + "/v1/"]
)
def test_catalog_endpoint_with_or_without_version(requests_mock, endpoint):
    requests_mock.get(fakes.V1 + "/pools", json={"pools": [fakes.POOL]})
    assert _client(endpoint).list_pools()[0]["name"] == "site-a"


def test_api_sig_detail_becomes_the_message(requests_mock):
    requests_mock.post(
        fakes.V1 + "/vgpus",
        status_code=409,
        json=fakes.error(409, "No capacity for 2 x 50%", "pooling.no_capacity"),
    )
    with pytest.raises(exceptions.Conflict) as info:
        _client().create_vgpu(compute_percent=50, memory_mb=1, count=2)
    assert info.value.code == "pooling.no_capacity"
    assert info.value.status == 409
    assert str(info.value) == "No capacity for 2 x 50% (HTTP 409) (Request-ID: req-1)"


def test_multi_line_detail_is_one_line(requests_mock):
    requests_mock.get(
        fakes.V1 + "/pools/x", status_code=404, json=fakes.error(404, "Pool x\n  not found")
    )
    with pytest.raises(exceptions.NotFound) as info:
        _client().get_pool("x")
    assert "\n" not in str(info.value)
    assert info.value.detail == "Pool x not found"


def test_non_json_error_uses_first_line(requests_mock):
    requests_mock.get(fakes.V1 + "/pools", status_code=502, text="Bad gateway\nmore")
    with pytest.raises(exceptions.ApiError) as info:
        _client().list_pools()
    assert info.value.detail == "Bad gateway"
    assert info.value.status == 502


def test_keystone_style_error(requests_mock):
    requests_mock.get(
        fakes.V1 + "/pools",
        status_code=401,
        json={
            "error": {"message": "The request you have made requires authentication.", "code": 401}
        },
    )
    with pytest.raises(exceptions.ApiError, match="requires authentication"):
        _client().list_pools()


def test_names_are_quoted_in_paths(requests_mock):
    requests_mock.get(fakes.V1 + "/pools/a%2Fb%20c", json=fakes.POOL)
    assert _client().get_pool("a/b c")["uuid"] == fakes.POOL_UUID


def test_delete_answers_none(requests_mock):
    requests_mock.delete(fakes.V1 + "/pools/site-a", status_code=204)
    assert _client().delete_pool("site-a") is None


def test_non_json_success_is_an_error(requests_mock):
    requests_mock.get(fakes.V1 + "/pools", text="<html>")
    with pytest.raises(exceptions.ClientError, match="non-JSON"):
        _client().list_pools()


def test_find_vgpu_by_uuid(requests_mock):
    requests_mock.get(fakes.V1 + "/vgpus/" + fakes.VGPU_UUID, json=fakes.VGPU)
    assert _client().find_vgpu(fakes.VGPU_UUID)["name"] == "train-1"


def test_find_vgpu_by_name(requests_mock):
    other = dict(fakes.VGPU, uuid="0" * 32, name="other")
    requests_mock.get(fakes.V1 + "/vgpus", json={"vgpus": [other, fakes.VGPU]})
    assert _client().find_vgpu("train-1")["uuid"] == fakes.VGPU_UUID


def test_find_vgpu_uuid_like_name_falls_back_to_list(requests_mock):
    named = dict(fakes.VGPU, name=fakes.DEVICE_UUID)
    requests_mock.get(
        fakes.V1 + "/vgpus/" + fakes.DEVICE_UUID,
        status_code=404,
        json=fakes.error(404, "not found"),
    )
    requests_mock.get(fakes.V1 + "/vgpus", json={"vgpus": [named]})
    assert _client().find_vgpu(fakes.DEVICE_UUID)["uuid"] == fakes.VGPU_UUID


def test_find_vgpu_none_or_many(requests_mock):
    requests_mock.get(fakes.V1 + "/vgpus", json={"vgpus": [fakes.VGPU, fakes.VGPU]})
    with pytest.raises(exceptions.NoUniqueMatch):
        _client().find_vgpu("train-1")
    with pytest.raises(exceptions.NotFound, match="No vGPU with a name or ID of 'zz'"):
        _client().find_vgpu("zz")


def test_list_vgpus_all_projects_query(requests_mock):
    requests_mock.get(fakes.V1 + "/vgpus", json={"vgpus": []})
    _client().list_vgpus(all_projects=True, state="ACTIVE", project_id=None)
    assert requests_mock.last_request.qs == {"all_projects": ["true"], "state": ["active"]}
    _client().list_vgpus(all_projects=False)
    assert requests_mock.last_request.query == ""


def test_find_device_by_pci_address(requests_mock):
    requests_mock.get(fakes.V1 + "/devices", json={"devices": [fakes.DEVICE]})
    assert _client().find_device("0000:3b:00.0")["uuid"] == fakes.DEVICE_UUID
    with pytest.raises(exceptions.NotFound):
        _client().find_device("0000:00:00.0")
    requests_mock.get(fakes.V1 + "/devices", json={"devices": [fakes.DEVICE, fakes.DEVICE]})
    with pytest.raises(exceptions.NoUniqueMatch):
        _client().find_device("0000:3b:00.0")


def test_is_uuid_like():
    assert client.is_uuid_like(fakes.VGPU_UUID)
    assert client.is_uuid_like(fakes.PROJECT)
    assert not client.is_uuid_like("train-1")
    assert not client.is_uuid_like("")
