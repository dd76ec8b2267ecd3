"""``openstack accelerator pool ...`` commands."""

from osc_lib import exceptions as osc_exceptions
import pytest

from poolingclient import exceptions
from poolingclient.osc import pools
from tests.unit.client import fakes


def test_pool_list(requests_mock):
    requests_mock.get(fakes.V1 + "/pools", json={"pools": [fakes.POOL]})
    columns, rows = fakes.run(pools.ListPool, [])
    assert columns == ("UUID", "Name", "Hosts", "Devices")
    assert rows == [(fakes.POOL_UUID, "site-a", 2, 8)]


def test_pool_list_long(requests_mock):
    requests_mock.get(fakes.V1 + "/pools", json={"pools": [fakes.POOL]})
    columns, rows = fakes.run(pools.ListPool, ["--long"])
    assert columns[-3:] == ("Description", "Created At", "Updated At")
    assert rows[0][-3:] == ("first site", "2026-11-28T10:00:00Z", None)


def test_pool_show_by_name(requests_mock):
    requests_mock.get(fakes.V1 + "/pools/site-a", json=fakes.POOL)
    columns, values = fakes.run(pools.ShowPool, ["site-a"])
    assert columns == tuple(sorted(fakes.POOL))
    assert fakes.row_dict(columns, values) == fakes.POOL


def test_pool_create(requests_mock):
    requests_mock.post(fakes.V1 + "/pools", status_code=201, json=fakes.POOL)
    columns, values = fakes.run(pools.CreatePool, ["site-a", "--description", "first site"])
    assert requests_mock.last_request.json() == {"name": "site-a", "description": "first site"}
    assert fakes.row_dict(columns, values)["uuid"] == fakes.POOL_UUID


def test_pool_create_without_description(requests_mock):
    requests_mock.post(fakes.V1 + "/pools", status_code=201, json=fakes.POOL)
    fakes.run(pools.CreatePool, ["site-a"])
    assert requests_mock.last_request.json() == {"name": "site-a"}


def test_pool_delete_one_shows_the_reason(requests_mock):
    requests_mock.delete(
        fakes.V1 + "/pools/site-a",
        status_code=409,
        json=fakes.error(409, "Pool site-a still has 2 hosts"),
    )
    with pytest.raises(exceptions.Conflict, match="still has 2 hosts"):
        fakes.run(pools.DeletePool, ["site-a"])


def test_pool_delete_many_counts_failures(requests_mock):
    requests_mock.delete(fakes.V1 + "/pools/a", status_code=204)
    requests_mock.delete(fakes.V1 + "/pools/b", status_code=404, json=fakes.error(404, "no b"))
    requests_mock.delete(fakes.V1 + "/pools/c", status_code=204)
    with pytest.raises(osc_exceptions.CommandError, match="Failed to delete 1 of 3 pools"):
        fakes.run(pools.DeletePool, ["a", "b", "c"])
    assert [r.path for r in requests_mock.request_history] == [
        "/v1/pools/a",
        "/v1/pools/b",
        "/v1/pools/c",
    ]


def test_pool_delete_many_ok(requests_mock):
    requests_mock.delete(fakes.V1 + "/pools/a", status_code=204)
    requests_mock.delete(fakes.V1 + "/pools/b", status_code=204)
    assert fakes.run(pools.DeletePool, ["a", "b"]) is None


def test_host_list_filters(requests_mock):
    requests_mock.get(fakes.V1 + "/hosts", json={"hosts": [fakes.HOST]})
    columns, rows = fakes.run(
        pools.ListHost, ["--pool", "site-a", "--state", "up", "--fabric", "ib0"]
    )
    assert requests_mock.last_request.qs == {"pool": ["site-a"], "state": ["up"], "fabric": ["ib0"]}
    assert columns == ("UUID", "Name", "Pool", "Fabric", "State", "Devices")
    assert rows == [(fakes.HOST_UUID, "gpu-1", "site-a", "ib0", "up", 4)]


def test_host_list_long_no_filters(requests_mock):
    requests_mock.get(fakes.V1 + "/hosts", json={"hosts": [fakes.HOST]})
    columns, rows = fakes.run(pools.ListHost, ["--long"])
    assert requests_mock.last_request.query == ""
    assert "Last Heartbeat" in columns
    assert rows[0][-3:] == (64000, 524288, "2026-11-28T10:01:00Z")


def test_host_list_rejects_bad_state():
    with pytest.raises(SystemExit):
        fakes.run(pools.ListHost, ["--state", "sideways"])


def test_host_show(requests_mock):
    requests_mock.get(fakes.V1 + "/hosts/gpu-1", json=fakes.HOST)
    columns, values = fakes.run(pools.ShowHost, ["gpu-1"])
    assert fakes.row_dict(columns, values)["fabric"] == "ib0"


def test_device_list_filters(requests_mock):
    requests_mock.get(fakes.V1 + "/devices", json={"devices": [fakes.DEVICE]})
    columns, rows = fakes.run(
        pools.ListDevice,
        [
            "--pool",
            "site-a",
            "--host",
            "gpu-1",
            "--vendor",
            "nvidia",
            "--model",
            "A100-80G",
            "--health",
            "healthy",
        ],
    )
    assert requests_mock.last_request.qs == {
        "pool": ["site-a"],
        "host": ["gpu-1"],
        "vendor": ["nvidia"],
        "model": ["a100-80g"],
        "health": ["healthy"],
    }
    assert rows == [
        (fakes.DEVICE_UUID, "gpu-1", "nvidia", "A100-80G", "0000:3b:00.0", 81920, "healthy")
    ]
    assert "Free Compute %" not in columns


def test_device_list_long_reads_nested_fields(requests_mock):
    requests_mock.get(fakes.V1 + "/devices", json={"devices": [fakes.DEVICE]})
    columns, rows = fakes.run(pools.ListDevice, ["--long"])
    row = dict(zip(columns, rows[0]))
    assert row["Free Compute %"] == 75
    assert row["Free Memory (MB)"] == 61440
    assert row["Isolation"].machine_readable() == ["hard", "soft"]
    assert row["Isolation"].human_readable() == "hard, soft"


def test_device_show_by_uuid_and_pci(requests_mock):
    requests_mock.get(fakes.V1 + "/devices/" + fakes.DEVICE_UUID, json=fakes.DEVICE)
    requests_mock.get(fakes.V1 + "/devices", json={"devices": [fakes.DEVICE]})
    for ref in (fakes.DEVICE_UUID, "0000:3b:00.0"):
        columns, values = fakes.run(pools.ShowDevice, [ref])
        shown = fakes.row_dict(columns, values)
        assert shown["capacity"] == {"compute_percent": 100, "memory_mb": 81920}


def test_usage(requests_mock):
    requests_mock.get(fakes.V1 + "/usage", json={"usage": [fakes.USAGE]})
    columns, rows = fakes.run(pools.ShowUsage, ["--pool", "site-a", "--long"])
    assert requests_mock.last_request.qs == {"pool": ["site-a"]}
    row = dict(zip(columns, rows[0]))
    assert row["Capacity Compute %"] == 800
    assert row["Allocated Memory (MB)"] == 40960
    assert row["Stranded Compute %"] == 0


def test_usage_is_short_with_a_bar_and_the_common_shapes(requests_mock):
    entry = dict(fakes.USAGE, common_shapes=[
        {"compute_percent": 25.0, "memory_mb": 16384, "count": 1},
        {"compute_percent": 100.0, "memory_mb": 81920, "count": 2}])
    requests_mock.get(fakes.V1 + "/usage", json={"usage": [entry]})
    columns, rows = fakes.run(pools.ShowUsage, [])
    row = dict(zip(columns, rows[0]))
    assert len(columns) == 8
    assert row["Compute %"] == "50/800" and row["Memory GiB"] == "40/640"
    assert row["Allocated"] == "[#...................]   6%"
    assert row["Common Shapes"] == "25%/16G, 100%/80Gx2"
    width = sum(max(len(str(c)), len(str(v))) + 3 for c, v in zip(columns, rows[0]))
    assert width < 130, width


def test_usage_all_pools(requests_mock):
    requests_mock.get(fakes.V1 + "/usage", json={"usage": []})
    columns, rows = fakes.run(pools.ShowUsage, [])
    assert rows == [] and columns[0] == "Pool"
    assert requests_mock.last_request.query == ""


def test_capacity_asks_for_microversion_1_1(requests_mock):
    requests_mock.get(fakes.V1 + "/capacity", json={"capacity": {
        "models": [], "available_limit": 32,
        "profiles": [{"name": "half", "available": 3}]}})
    columns, rows = fakes.run(pools.ShowCapacity, ["--pool", "site-a"])
    assert rows == [("half", 3)] and columns == ("Profile", "Available")
    assert requests_mock.last_request.qs == {"pool": ["site-a"]}
    assert requests_mock.last_request.headers["OpenStack-API-Version"] == \
        "accelerator-pool 1.1"


def test_usage_by_platform_asks_1_2_and_lists_one_row_per_platform(requests_mock):
    entry = dict(fakes.USAGE, by_platform=[
        {"platform": "kubernetes", "vgpus": 2, "compute_percent": 50.0, "memory_mb": 20480},
        {"platform": "vmware", "vgpus": 1, "compute_percent": 10.0, "memory_mb": 4096}])
    requests_mock.get(fakes.V1 + "/usage", json={"usage": [entry]})
    columns, rows = fakes.run(pools.ShowUsage, ["--pool", "site-a", "--by-platform"])
    request = requests_mock.last_request
    assert request.headers["OpenStack-API-Version"] == "accelerator-pool 1.2"
    assert request.qs == {"pool": ["site-a"]}
    assert columns == ("Pool", "Model", "Platform", "vGPUs", "Compute %", "Memory (MB)")
    assert [r[2:] for r in rows] == [("kubernetes", 2, 50.0, 20480), ("vmware", 1, 10.0, 4096)]
