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


def test_create_wait_prints_progress_and_honours_timeout(requests_mock):
    import io

    requests_mock.post(fakes.V1 + "/vgpus", status_code=201, json=fakes.VGPU)
    requests_mock.get(
        VGPU_URL,
        [{"json": dict(fakes.VGPU, state="PREPARING")}, {"json": dict(fakes.VGPU, state="ACTIVE")}],
    )
    app = fakes.make_app()
    app.stderr = io.StringIO()
    fakes.run(vgpus.CreateVgpu, ["x", "--profile", "p", "--wait"], app=app)
    lines = app.stderr.getvalue().splitlines()
    assert [line.split(": ")[1].split(" after")[0] for line in lines] == ["PREPARING", "ACTIVE"]
    requests_mock.get(VGPU_URL, json=dict(fakes.VGPU, state="PREPARING"))
    with pytest.raises(osc_exceptions.CommandError, match="still PREPARING after 0 s"):
        fakes.run(vgpus.CreateVgpu, ["x", "--profile", "p", "--wait", "--timeout", "0"], app=app)


def test_list(requests_mock):
    requests_mock.get(fakes.V1 + "/vgpus", json={"vgpus": [fakes.VGPU]})
    columns, rows = fakes.run(vgpus.ListVgpu, [])
    assert columns == ("UUID", "Name", "State", "Compute %", "Memory (MB)", "Count", "Locality",
                       "Host/Device", "Consumer")
    assert rows == [(fakes.VGPU_UUID, "train-1", "SCHEDULED", 50, 40960, 1, "remote-allowed",
                     "gpu-1/7d9e0f1a", "")]
    assert requests_mock.last_request.query == ""


def test_list_shows_where_and_who(requests_mock):
    vgpu = dict(fakes.VGPU, consumer={"platform": "nova", "id": "srv-1", "host": "cmp-1"})
    vgpu["slices"] = vgpu["slices"] + [dict(vgpu["slices"][0], index=1, host="gpu-2")]
    requests_mock.get(fakes.V1 + "/vgpus", json={"vgpus": [vgpu]})
    columns, rows = fakes.run(vgpus.ListVgpu, [])
    row = dict(zip(columns, rows[0]))
    assert row["Host/Device"] == "gpu-1/7d9e0f1a, gpu-2/7d9e0f1a"
    assert row["Consumer"] == "nova:srv-1@cmp-1"


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


def test_create_errors_name_the_flags_not_the_api_fields(requests_mock):
    requests_mock.post(
        fakes.V1 + "/vgpus",
        status_code=400,
        json=fakes.error(400, "A vGPU of 2 cards takes whole cards: compute_percent must be "
                              "100; 'memory_mb' is too big"),
    )
    with pytest.raises(exceptions.ApiError) as err:
        fakes.run(vgpus.CreateVgpu, ["t", "--compute", "50", "--memory", "9", "--count", "2"])
    text = str(err.value)
    assert "--compute must be 100" in text and "--memory is too big" in text
    assert "compute_percent" not in text and "memory_mb" not in text


def test_show_prints_slices_and_attachment_as_short_lines(requests_mock):
    attachment = {
        "slices": [{"index": 0, "device_uuid": fakes.DEVICE_UUID, "host": "gpu-1",
                    "env": {"CUDA_VISIBLE_DEVICES": "0", "CUDA_MPS_ACTIVE_THREAD_PERCENTAGE": "50"},
                    "mig_uuid": "MIG-" + "a" * 36}],
        "remote": {"protocol": "grpc", "lease_id": "l1", "ca_cert": "-----BEGIN\n" + "x" * 900,
                   "endpoints": [{"gateway": "10.0.0.1:7000", "lease_id": "l1", "cards": 1}]},
    }
    requests_mock.get(VGPU_URL, json=dict(fakes.VGPU, state="ACTIVE", attachment=attachment))
    columns, values = fakes.run(vgpus.ShowVgpu, [fakes.VGPU_UUID])
    shown = dict(zip(columns, values))
    text = shown["attachment"].human_readable()
    lines = text.splitlines()
    assert len(lines) > 3 and max(len(line) for line in lines) < 120, text
    assert "slices[0].env.CUDA_VISIBLE_DEVICES: 0" in lines
    assert "remote.ca_cert: <911 characters>" in lines
    assert "remote.endpoints[0]: cards=1, gateway=10.0.0.1:7000, lease_id=l1" in lines
    assert "{" not in text
    # -f json/yaml keep the structure.
    assert shown["attachment"].machine_readable() == attachment
    assert shown["slices"].human_readable().startswith("[0]: compute_percent=50, device_uuid=")


def test_compute_takes_one_decimal_and_sends_whole_numbers_as_ints(requests_mock):
    requests_mock.post(fakes.V1 + "/vgpus", status_code=201, json=fakes.VGPU)
    fakes.run(vgpus.CreateVgpu, ["t", "--compute", "14.2", "--memory", "1"])
    assert requests_mock.last_request.json()["compute_percent"] == 14.2
    fakes.run(vgpus.CreateVgpu, ["t", "--compute", "50", "--memory", "1"])
    assert '"compute_percent": 50,' in requests_mock.last_request.text


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


def test_list_by_consumer(requests_mock):
    requests_mock.get(fakes.V1 + "/vgpus", json={"vgpus": []})
    fakes.run(vgpus.ListVgpu, ["--consumer", "platform=nova,id=srv-1"])
    assert requests_mock.last_request.qs == {"consumer_platform": ["nova"],
                                             "consumer_id": ["srv-1"]}
    fakes.run(vgpus.ListVgpu, ["--consumer", "id=srv-2"])
    assert requests_mock.last_request.qs == {"consumer_id": ["srv-2"]}
    for bad in ("nova", "host=x", "id="):
        with pytest.raises(exceptions.CommandError, match="--consumer takes"):
            fakes.run(vgpus.ListVgpu, ["--consumer", bad])
