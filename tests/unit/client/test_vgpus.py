"""``openstack accelerator vgpu ...`` commands."""

from osc_lib import exceptions as osc_exceptions
import pytest

from poolingclient import exceptions
from poolingclient.osc import vgpus
from tests.unit.client import fakes

VGPU_URL = fakes.V1 + "/vgpus/" + fakes.VGPU_UUID


@pytest.fixture(autouse=True)
def _no_sleep(monkeypatch):
    monkeypatch.setattr(vgpus, "WAIT_INTERVAL", 0)


def test_create_by_profile(requests_mock):
    requests_mock.post(fakes.V1 + "/vgpus", status_code=201, json=fakes.VGPU)
    columns, values = fakes.run(vgpus.CreateVgpu, ["train-1", "--profile", "quarter-16g"])
    assert requests_mock.last_request.json() == {"name": "train-1", "profile": "quarter-16g"}
    shown = fakes.row_dict(columns, values)
    assert shown["state"] == "SCHEDULED"
    assert shown["slices"][0]["device_uuid"] == fakes.DEVICE_UUID


def test_create_by_shape_with_everything(requests_mock):
    requests_mock.post(fakes.V1 + "/vgpus", status_code=201, json=fakes.VGPU)
    fakes.run(
        vgpus.CreateVgpu,
        [
            "train-1",
            "--compute",
            "50",
            "--memory",
            "40960",
            "--count",
            "2",
            "--model",
            "A100-80G",
            "--model",
            "H100",
            "--locality",
            "remote-required",
            "--isolation",
            "hard",
            "--consumer",
            "platform=docker,host=c1,id=abc",
        ],
    )
    assert requests_mock.last_request.json() == {
        "name": "train-1",
        "compute_percent": 50,
        "memory_mb": 40960,
        "count": 2,
        "models": ["A100-80G", "H100"],
        "locality": "remote-required",
        "isolation": "hard",
        "consumer": {"platform": "docker", "host": "c1", "id": "abc"},
    }


@pytest.mark.parametrize(
    "argv, message",
    [
        (["x", "--profile", "p", "--compute", "10"], "not both"),
        (["x", "--profile", "p", "--count", "2"], "not both"),
        (["x", "--compute", "10"], "both --compute and --memory"),
        (["x", "--memory", "10"], "both --compute and --memory"),
        (["x"], "Give --profile"),
        (
            [
                "x",
                "--profile",
                "p",
                "--consumer",
                "platform=a,id=1",
                "--consumer",
                "platform=b,id=2",
            ],
            "once",
        ),
    ],
)
def test_create_rejects_bad_combinations(requests_mock, argv, message):
    with pytest.raises(osc_exceptions.CommandError, match=message):
        fakes.run(vgpus.CreateVgpu, argv)
    assert not requests_mock.called


@pytest.mark.parametrize(
    "argv",
    [
        ["x", "--compute", "ten", "--memory", "1"],
        ["x", "--profile", "p", "--locality", "moon"],
        ["x", "--profile", "p", "--isolation", "strong"],
        ["x", "--profile", "p", "--consumer", "host=h"],
    ],
)
def test_create_argument_errors(argv):
    with pytest.raises(SystemExit):
        fakes.run(vgpus.CreateVgpu, argv)


def test_create_no_capacity_is_the_api_detail(requests_mock):
    requests_mock.post(
        fakes.V1 + "/vgpus",
        status_code=409,
        json=fakes.error(409, "No device has 50% free", "pooling.no_capacity"),
    )
    with pytest.raises(exceptions.Conflict, match="No device has 50% free"):
        fakes.run(vgpus.CreateVgpu, ["x", "--compute", "50", "--memory", "1"])


def test_create_wait_until_active(requests_mock):
    requests_mock.post(fakes.V1 + "/vgpus", status_code=201, json=fakes.VGPU)
    requests_mock.get(
        VGPU_URL,
        [{"json": dict(fakes.VGPU, state="PREPARING")}, {"json": dict(fakes.VGPU, state="ACTIVE")}],
    )
    columns, values = fakes.run(vgpus.CreateVgpu, ["x", "--profile", "p", "--wait"])
    assert fakes.row_dict(columns, values)["state"] == "ACTIVE"


def test_create_wait_error(requests_mock):
    requests_mock.post(fakes.V1 + "/vgpus", status_code=201, json=fakes.VGPU)
    requests_mock.get(VGPU_URL, json=dict(fakes.VGPU, state="ERROR", state_reason="agent died"))
    with pytest.raises(osc_exceptions.CommandError, match="ERROR: agent died"):
        fakes.run(vgpus.CreateVgpu, ["x", "--profile", "p", "--wait"])


def test_wait_times_out(requests_mock):
    requests_mock.get(VGPU_URL, json=dict(fakes.VGPU, state="PREPARING"))
    client = fakes.make_app().client_manager.accelerator_pool
    with pytest.raises(osc_exceptions.CommandError, match="still PREPARING"):
        vgpus._wait(client, fakes.VGPU_UUID, {"ACTIVE"}, timeout=0)


def test_list(requests_mock):
    requests_mock.get(fakes.V1 + "/vgpus", json={"vgpus": [fakes.VGPU]})
    columns, rows = fakes.run(vgpus.ListVgpu, [])
    assert columns == ("UUID", "Name", "State", "Compute %", "Memory (MB)", "Count", "Locality")
    assert rows == [(fakes.VGPU_UUID, "train-1", "SCHEDULED", 50, 40960, 1, "remote-allowed")]
    assert requests_mock.last_request.query == ""


def test_list_filters_and_long(requests_mock):
    requests_mock.get(fakes.V1 + "/vgpus", json={"vgpus": [fakes.VGPU]})
    columns, rows = fakes.run(
        vgpus.ListVgpu,
        ["--state", "active", "--all-projects", "--project", fakes.PROJECT, "--long"],
    )
    request = requests_mock.last_request
    assert "state=ACTIVE" in request.url
    assert request.qs["all_projects"] == ["true"]
    assert request.qs["project_id"] == [fakes.PROJECT]
    assert dict(zip(columns, rows[0]))["Project"] == fakes.PROJECT


def test_list_project_by_name_uses_identity(requests_mock):
    app = fakes.make_app()
    requests_mock.get(fakes.V1 + "/vgpus", json={"vgpus": []})
    project = type("P", (), {"id": fakes.PROJECT})()
    from openstackclient.identity import common as identity_common

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(identity_common, "find_project", lambda client, name: project)
        fakes.run(vgpus.ListVgpu, ["--project", "demo"], app=app)
    assert requests_mock.last_request.qs["project_id"] == [fakes.PROJECT]


def test_list_project_name_without_identity_is_passed_on(requests_mock):
    app = fakes.make_app()
    app.client_manager.identity = None
    requests_mock.get(fakes.V1 + "/vgpus", json={"vgpus": []})
    fakes.run(vgpus.ListVgpu, ["--project", "demo"], app=app)
    assert requests_mock.last_request.qs["project_id"] == ["demo"]


def test_show_by_name(requests_mock):
    requests_mock.get(fakes.V1 + "/vgpus", json={"vgpus": [fakes.VGPU]})
    columns, values = fakes.run(vgpus.ShowVgpu, ["train-1"])
    shown = fakes.row_dict(columns, values)
    assert shown["uuid"] == fakes.VGPU_UUID
    assert "consumer" in columns and "attachment" in columns


def test_show_missing(requests_mock):
    requests_mock.get(fakes.V1 + "/vgpus", json={"vgpus": []})
    with pytest.raises(exceptions.NotFound, match="No vGPU with a name or ID of 'nope'"):
        fakes.run(vgpus.ShowVgpu, ["nope"])


def test_delete_by_name_and_uuid(requests_mock):
    requests_mock.get(fakes.V1 + "/vgpus", json={"vgpus": [fakes.VGPU]})
    requests_mock.get(VGPU_URL, json=fakes.VGPU)
    requests_mock.delete(VGPU_URL, status_code=202)
    fakes.run(vgpus.DeleteVgpu, ["train-1", fakes.VGPU_UUID])
    deletes = [r for r in requests_mock.request_history if r.method == "DELETE"]
    assert [r.path for r in deletes] == ["/v1/vgpus/" + fakes.VGPU_UUID] * 2


def test_delete_many_reports_failures(requests_mock):
    requests_mock.get(fakes.V1 + "/vgpus", json={"vgpus": [fakes.VGPU]})
    requests_mock.delete(VGPU_URL, status_code=202)
    with pytest.raises(osc_exceptions.CommandError, match="Failed to delete 1 of 2 vGPUs"):
        fakes.run(vgpus.DeleteVgpu, ["train-1", "ghost"])


def test_delete_wait_until_gone(requests_mock):
    requests_mock.get(
        VGPU_URL,
        [
            {"json": fakes.VGPU},
            {"json": dict(fakes.VGPU, state="RELEASING")},
            {"status_code": 404, "json": fakes.error(404, "gone")},
        ],
    )
    requests_mock.delete(VGPU_URL, status_code=202)
    fakes.run(vgpus.DeleteVgpu, [fakes.VGPU_UUID, "--wait"])
    assert requests_mock.call_count == 4


def test_wait_is_osc_libs_loop(requests_mock, monkeypatch):
    """--wait goes through osc-lib's wait_for_status, not a loop of our own (issue 13)."""
    from osc_lib import utils as osc_utils

    calls = []
    real = osc_utils.wait_for_status

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(osc_utils, "wait_for_status", spy)
    requests_mock.get(VGPU_URL, json=dict(fakes.VGPU, state="ACTIVE"))
    client = fakes.make_app().client_manager.accelerator_pool
    assert vgpus._wait(client, fakes.VGPU_UUID, {"ACTIVE"})["state"] == "ACTIVE"
    assert calls and calls[0]["status_field"] == "state"


def test_uuid_like_is_oslo_utils():
    from oslo_utils import uuidutils

    from poolingclient.v1 import client as v1

    for value in (fakes.VGPU_UUID, fakes.VGPU_UUID.replace("-", ""), "gpu-a", "", None,
                  "{%s}" % fakes.VGPU_UUID):
        assert v1.is_uuid_like(value) == uuidutils.is_uuid_like(value or "")


def test_create_with_link_asks_microversion_1_4(requests_mock):
    requests_mock.post(fakes.V1 + "/vgpus", status_code=201, json={**fakes.VGPU, "link": "nvlink"})
    columns, values = fakes.run(
        vgpus.CreateVgpu,
        ["x", "--compute", "100", "--memory", "81920", "--count", "4", "--link", "nvlink"],
    )
    sent = requests_mock.last_request
    assert sent.json()["link"] == "nvlink"
    assert sent.headers["OpenStack-API-Version"] == "accelerator-pool 1.4"
    assert fakes.row_dict(columns, values)["link"] == "nvlink"


def test_create_without_link_keeps_the_session_microversion(requests_mock):
    requests_mock.post(fakes.V1 + "/vgpus", status_code=201, json=fakes.VGPU)
    fakes.run(vgpus.CreateVgpu, ["x", "--profile", "p"])
    assert requests_mock.last_request.headers["OpenStack-API-Version"] != "accelerator-pool 1.4"


def test_create_rejects_an_unknown_link():
    with pytest.raises(SystemExit):
        fakes.run(vgpus.CreateVgpu, ["x", "--profile", "p", "--link", "infiniband"])
