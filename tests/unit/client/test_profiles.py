"""``openstack accelerator vgpu profile ...`` commands."""

import pytest

from poolingclient import exceptions
from poolingclient.osc import profiles
from tests.unit.client import fakes


def test_list(requests_mock):
    requests_mock.get(fakes.V1 + "/profiles", json={"profiles": [fakes.PROFILE]})
    columns, rows = fakes.run(profiles.ListProfile, [])
    assert columns == ("UUID", "Name", "Compute %", "Memory (MB)", "Count", "Models")
    assert rows[0][:5] == (fakes.PROFILE_UUID, "quarter-16g", 25, 16384, 1)
    assert rows[0][5].machine_readable() == ["A100-80G"]


def test_list_long(requests_mock):
    requests_mock.get(fakes.V1 + "/profiles", json={"profiles": [fakes.PROFILE]})
    columns, rows = fakes.run(profiles.ListProfile, ["--long"])
    row = dict(zip(columns, rows[0]))
    assert row["Isolation"] == "soft" and row["Locality"] == "remote-allowed"


def test_show(requests_mock):
    requests_mock.get(fakes.V1 + "/profiles/quarter-16g", json=fakes.PROFILE)
    columns, values = fakes.run(profiles.ShowProfile, ["quarter-16g"])
    assert fakes.row_dict(columns, values) == fakes.PROFILE


def test_create_minimal(requests_mock):
    requests_mock.post(fakes.V1 + "/profiles", status_code=201, json=fakes.PROFILE)
    fakes.run(profiles.CreateProfile, ["quarter-16g", "--compute", "25", "--memory", "16384"])
    assert requests_mock.last_request.json() == {
        "name": "quarter-16g",
        "compute_percent": 25,
        "memory_mb": 16384,
    }


def test_create_full(requests_mock):
    requests_mock.post(fakes.V1 + "/profiles", status_code=201, json=fakes.PROFILE)
    columns, values = fakes.run(
        profiles.CreateProfile,
        [
            "quarter-16g",
            "--compute",
            "25",
            "--memory",
            "16384",
            "--count",
            "1",
            "--model",
            "A100-80G",
            "--isolation",
            "soft",
            "--locality",
            "local",
            "--description",
            "a quarter",
        ],
    )
    assert requests_mock.last_request.json() == {
        "name": "quarter-16g",
        "compute_percent": 25,
        "memory_mb": 16384,
        "count": 1,
        "models": ["A100-80G"],
        "isolation": "soft",
        "locality": "local",
        "description": "a quarter",
    }
    assert fakes.row_dict(columns, values)["uuid"] == fakes.PROFILE_UUID


def test_create_needs_shape():
    with pytest.raises(SystemExit):
        fakes.run(profiles.CreateProfile, ["p", "--compute", "25"])


def test_create_bad_input_detail(requests_mock):
    requests_mock.post(
        fakes.V1 + "/profiles",
        status_code=400,
        json=fakes.error(400, "compute_percent: 250 is greater than 100"),
    )
    with pytest.raises(exceptions.ApiError, match="250 is greater than 100"):
        fakes.run(profiles.CreateProfile, ["p", "--compute", "250", "--memory", "1"])


def test_delete(requests_mock):
    requests_mock.delete(fakes.V1 + "/profiles/quarter-16g", status_code=204)
    requests_mock.delete(fakes.V1 + "/profiles/" + fakes.PROFILE_UUID, status_code=204)
    fakes.run(profiles.DeleteProfile, ["quarter-16g", fakes.PROFILE_UUID])
    assert requests_mock.call_count == 2


def test_create_with_link_asks_microversion_1_4(requests_mock):
    requests_mock.post(fakes.V1 + "/profiles", status_code=201,
                       json={**fakes.PROFILE, "link": "pcie_switch"})
    fakes.run(profiles.CreateProfile,
              ["pair", "--compute", "100", "--memory", "81920", "--count", "2",
               "--link", "pcie_switch"])
    sent = requests_mock.last_request
    assert sent.json()["link"] == "pcie_switch"
    assert sent.headers["OpenStack-API-Version"] == "accelerator-pool 1.4"
    fakes.run(profiles.CreateProfile, ["one", "--compute", "25", "--memory", "1024"])
    assert requests_mock.last_request.headers.get(
        "OpenStack-API-Version") != "accelerator-pool 1.4"
