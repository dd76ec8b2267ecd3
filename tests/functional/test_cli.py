"""The real ``openstack`` CLI against a real pooling-api (MariaDB, RabbitMQ, sim agents).

Each step runs ``openstack --os-auth-type none --os-endpoint URL accelerator ...``
as a subprocess, the way an operator or tenant would, and reads its JSON output.
"""

import json
import os
from pathlib import Path
import shutil
import subprocess
import sys

import pytest

pytestmark = pytest.mark.functional

OPENSTACK = shutil.which("openstack", path=str(Path(sys.executable).parent)) or "openstack"


@pytest.fixture
def cli(api_url):
    """Run ``openstack ... accelerator ARGS``; returns (exit code, stdout, stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}

    def run(*args, fmt=None):
        argv = [OPENSTACK, "--os-auth-type", "none", "--os-endpoint", api_url, "accelerator", *args]
        if fmt:
            argv += ["-f", fmt]
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
        return proc.returncode, proc.stdout, proc.stderr

    def ok_json(*args):
        code, out, err = run(*args, fmt="json")
        assert code == 0, err
        return json.loads(out)

    run.json = ok_json
    return run


def _errors(err: str) -> list[str]:
    """The lines a user reads on stderr (without Python warnings from libraries)."""
    return [
        line
        for line in err.splitlines()
        if line.strip() and "Warning" not in line and not line.startswith(" ")
    ]


def test_pools_hosts_devices_usage(cli):
    pools = cli.json("pool", "list", "--long")
    assert [p["Name"] for p in pools] == ["default"]
    assert pools[0]["Devices"] == 4

    shown = cli.json("pool", "show", "default")
    assert shown["uuid"] == pools[0]["UUID"]
    assert cli.json("pool", "show", shown["uuid"])["name"] == "default"

    hosts = cli.json("pool", "host", "list", "--pool", "default", "--state", "up")
    assert sorted(h["Name"] for h in hosts) == ["bench-cpu-0", "bench-gpu-0", "bench-gpu-1"]
    assert cli.json("pool", "host", "show", "bench-gpu-0")["device_count"] == 2

    devices = cli.json("pool", "device", "list", "--host", "bench-gpu-1", "--long")
    assert len(devices) == 2 and {d["Model"] for d in devices} == {"A100-SXM4-80GB"}
    by_pci = cli.json("pool", "device", "show", devices[0]["PCI Address"])
    assert by_pci["uuid"] in {d["UUID"] for d in devices}

    usage = cli.json("pool", "usage", "--long")
    assert usage[0]["Devices"] == 4 and usage[0]["Capacity Compute %"] == 400
    code, out, err = cli("pool", "usage")
    assert code == 0, err
    assert "Common Shapes" in out and "[" in out
    assert max(len(line) for line in out.splitlines()) < 130, out


def test_pool_create_show_delete(cli):
    created = cli.json("pool", "create", "cli-site", "--description", "from the CLI")
    assert created["name"] == "cli-site" and created["host_count"] == 0
    code, out, _ = cli("pool", "show", "cli-site", "-c", "description", fmt="value")
    assert (code, out) == (0, "from the CLI\n")
    code, _, err = cli("pool", "delete", "cli-site")
    assert code == 0, err
    code, _, err = cli("pool", "show", "cli-site")
    assert code == 1
    assert len(_errors(err)) == 1 and "404" in err


def test_pool_with_hosts_cannot_be_deleted(cli):
    code, _, err = cli("pool", "delete", "default")
    assert code == 1
    (line,) = _errors(err)
    assert "409" in line


def test_profile_and_vgpu_lifecycle(cli):
    profile = cli.json(
        "vgpu",
        "profile",
        "create",
        "cli-quarter",
        "--compute",
        "25",
        "--memory",
        "4096",
        "--model",
        "A100-SXM4-80GB",
        "--description",
        "a quarter card",
    )
    assert profile["compute_percent"] == 25
    names = [p["Name"] for p in cli.json("vgpu", "profile", "list")]
    assert "cli-quarter" in names
    assert cli.json("vgpu", "profile", "show", "cli-quarter")["uuid"] == profile["uuid"]

    vgpu = cli.json("vgpu", "create", "cli-job", "--profile", "cli-quarter", "--wait")
    assert vgpu["state"] == "ACTIVE" and vgpu["profile"] == "cli-quarter"
    assert vgpu["slices"][0]["host"].startswith("bench-gpu-")

    shaped = cli.json(
        "vgpu",
        "create",
        "cli-shaped",
        "--compute",
        "50",
        "--memory",
        "8192",
        "--locality",
        "remote-required",
        "--consumer",
        "platform=other,host=bench-cpu-0,id=job-7",
    )
    assert shaped["consumer"] == {"platform": "other", "host": "bench-cpu-0", "id": "job-7"}

    listed = cli.json("vgpu", "list", "--long")
    assert {"cli-job", "cli-shaped"} <= {v["Name"] for v in listed}
    code, out, _ = cli("vgpu", "show", "cli-job", "-c", "state", fmt="value")
    assert (code, out) == (0, "ACTIVE\n")

    code, _, err = cli("vgpu", "delete", "cli-job", shaped["uuid"], "--wait")
    assert code == 0, err
    code, out, _ = cli("vgpu", "list", "--state", "deleted", "-c", "Name", fmt="value")
    assert code == 0 and "cli-job" in out.split()

    code, _, err = cli("vgpu", "profile", "delete", "cli-quarter")
    assert code == 0, err


def test_errors_are_one_line_and_fail(cli):
    # Too big for any card: the service's 409 detail, on one line.
    code, out, err = cli(
        "vgpu", "create", "huge", "--compute", "100", "--memory", "81920", "--count", "8"
    )
    assert code == 1 and out == ""
    (line,) = _errors(err)
    assert "409" in line

    # Invalid input is refused by the service (400) with what is wrong.
    code, _, err = cli("vgpu", "profile", "create", "bad", "--compute", "250", "--memory", "1")
    assert code == 1
    (line,) = _errors(err)
    assert "400" in line

    code, _, err = cli("vgpu", "show", "no-such-vgpu")
    assert code == 1
    assert _errors(err) == ["No vGPU with a name or ID of 'no-such-vgpu' exists. (HTTP 404)"]

    # Client-side misuse never reaches the service.
    code, _, err = cli("vgpu", "create", "x", "--profile", "p", "--compute", "5")
    assert code == 1 and "not both" in err


def test_quota_set_show_delete(cli):
    rows = cli.json("pool", "quota", "set", "cli-proj", "--vgpus", "3", "--compute", "200")
    assert {r["Resource"]: r["Limit"] for r in rows} == {
        "vGPUs": 3, "Memory (MB)": "unlimited", "Compute %": 200}
    shown = cli.json("pool", "quota", "show", "cli-proj")
    assert {r["Resource"]: r["In Use"] for r in shown}["vGPUs"] == 0
    code, _, err = cli("pool", "quota", "set", "cli-proj", "--vgpus", "-5")
    assert code == 1
    (line,) = _errors(err)
    assert "--vgpus" in line and "400" in line
    code, _, err = cli("pool", "quota", "delete", "cli-proj")
    assert code == 0, err
    shown = cli.json("pool", "quota", "show", "cli-proj")
    assert {r["Limit"] for r in shown} == {"unlimited"}
