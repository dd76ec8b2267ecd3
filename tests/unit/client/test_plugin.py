"""The osc plugin hooks and the whole ``openstack`` shell with our commands.

The shell tests run the real OpenStackShell (noauth, requests-mock behind) to
check what a user sees: ``-f``/``-c`` output, one error line and exit codes.
"""

import argparse
import json
from unittest import mock

from osc_lib import exceptions as osc_exceptions
import pytest

from poolingclient import plugin
from tests.unit.client import fakes

NOAUTH = ["--os-auth-type", "none", "--os-endpoint", fakes.ENDPOINT]


def test_check_api_version():
    assert plugin.check_api_version("1") is True
    assert plugin.check_api_version("1.7") is True
    with pytest.raises(osc_exceptions.CommandError, match="'2.0' is not supported"):
        plugin.check_api_version("2.0")


def test_build_option_parser_env(monkeypatch):
    monkeypatch.setenv("OS_ACCELERATOR_POOL_API_VERSION", "1.2")
    parser = plugin.build_option_parser(argparse.ArgumentParser())
    assert parser.parse_args([]).os_accelerator_pool_api_version == "1.2"


def test_make_client_uses_catalog_endpoint(requests_mock):
    instance = mock.Mock(
        _api_version={plugin.API_NAME: "1"}, region_name="R1", interface="internal"
    )
    instance.get_endpoint_for_service_type.return_value = fakes.ENDPOINT + "/v1"
    from keystoneauth1 import session

    instance.session = session.Session()
    client = plugin.make_client(instance)
    instance.get_endpoint_for_service_type.assert_called_once_with(
        "accelerator-pool", region_name="R1", interface="internal"
    )
    requests_mock.get(fakes.V1 + "/pools", json={"pools": []})
    client.list_pools()
    assert requests_mock.last_request.headers["OpenStack-API-Version"] == "accelerator-pool 1.0"


def test_make_client_without_endpoint():
    instance = mock.Mock(_api_version={plugin.API_NAME: "1.0"})
    instance.get_endpoint_for_service_type.return_value = None
    with pytest.raises(osc_exceptions.CommandError, match="--os-endpoint"):
        plugin.make_client(instance)


@pytest.fixture
def shell(monkeypatch, tmp_path):
    """Run ``openstack ARGV`` in-process; returns (exit code, stdout, stderr)."""
    for name in list(__import__("os").environ):
        if name.startswith("OS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no clouds.yaml from the working directory
    monkeypatch.setenv("HOME", str(tmp_path))
    from openstackclient import shell as osc_shell
    from osc_lib import clientmanager

    def run(argv, capsys, caplog=None):
        # NOTE: osc caches each plugin's client on the ClientManager class (one
        # shell per process in real life); drop it so each run builds its own.
        cache = vars(clientmanager.ClientManager).get(plugin.API_NAME)
        if cache is not None:
            monkeypatch.setattr(cache, "_handle", None)
        auth = [] if "--os-auth-url" in argv else NOAUTH
        code = osc_shell.OpenStackShell().run(auth + argv)
        out, err = capsys.readouterr()
        if caplog is not None:
            err = "".join(r.getMessage() + "\n" for r in caplog.records if r.levelname == "ERROR")
        return code, out, err

    return run


def test_shell_list_json(shell, capsys, requests_mock):
    requests_mock.get(fakes.V1 + "/pools", json={"pools": [fakes.POOL]})
    code, out, _ = shell(["accelerator", "pool", "list", "-f", "json"], capsys)
    assert code == 0
    assert json.loads(out) == [
        {"UUID": fakes.POOL_UUID, "Name": "site-a", "Hosts": 2, "Devices": 8}
    ]
    sent = requests_mock.last_request.headers["OpenStack-API-Version"]
    assert sent == "accelerator-pool 1.0"


def test_shell_show_column_value(shell, capsys, requests_mock):
    requests_mock.get(fakes.V1 + "/vgpus", json={"vgpus": [fakes.VGPU]})
    code, out, _ = shell(
        ["accelerator", "vgpu", "show", "train-1", "-c", "state", "-f", "value"], capsys
    )
    assert (code, out) == (0, "SCHEDULED\n")


def test_shell_show_nested_json(shell, capsys, requests_mock):
    requests_mock.get(fakes.V1 + "/devices/" + fakes.DEVICE_UUID, json=fakes.DEVICE)
    code, out, _ = shell(
        ["accelerator", "pool", "device", "show", fakes.DEVICE_UUID, "-f", "json"], capsys
    )
    assert code == 0
    assert json.loads(out)["free"] == {"compute_percent": 75, "memory_mb": 61440}


def test_shell_yaml_and_table(shell, capsys, requests_mock):
    requests_mock.get(fakes.V1 + "/profiles", json={"profiles": [fakes.PROFILE]})
    code, out, _ = shell(["accelerator", "vgpu", "profile", "list", "-f", "yaml"], capsys)
    assert code == 0 and "- Compute %: 25" in out
    code, out, _ = shell(["accelerator", "vgpu", "profile", "list"], capsys)
    assert code == 0 and "quarter-16g" in out and out.startswith("+")


def test_shell_microversion_option(shell, capsys, requests_mock):
    requests_mock.get(fakes.V1 + "/pools", json={"pools": []})
    code, _, _ = shell(
        ["--os-accelerator-pool-api-version", "1.4", "accelerator", "pool", "list"], capsys
    )
    assert code == 0
    assert requests_mock.last_request.headers["OpenStack-API-Version"] == "accelerator-pool 1.4"


def test_shell_api_error_is_one_line(shell, capsys, caplog, requests_mock):
    requests_mock.post(
        fakes.V1 + "/vgpus",
        status_code=409,
        json=fakes.error(409, "No device has 50% compute free"),
    )
    code, out, err = shell(
        ["accelerator", "vgpu", "create", "x", "--compute", "50", "--memory", "1"], capsys, caplog
    )
    assert code == 1
    assert out == ""
    assert err.strip().splitlines() == [
        "No device has 50% compute free (HTTP 409) (Request-ID: req-1)"
    ]


def test_shell_usage_error_exits_nonzero(shell, capsys, caplog):
    code, _, err = shell(["accelerator", "vgpu", "create", "x"], capsys, caplog)
    assert code == 1
    assert err.strip() == "Give --profile, or both --compute and --memory"


KEYSTONE = "http://keystone.test/v3"
CATALOG_URL = "http://pool.internal:6388/v1"


def test_shell_with_keystone_uses_the_catalog_and_token(shell, capsys, requests_mock):
    from keystoneauth1 import fixture as ks_fixture

    token = ks_fixture.V3Token(project_name="demo", project_id=fakes.PROJECT)
    service = token.add_service("accelerator-pool", name="pooling")
    service.add_standard_endpoints(public=CATALOG_URL, internal=CATALOG_URL, region="RegionOne")
    requests_mock.get(KEYSTONE, json=ks_fixture.V3Discovery(KEYSTONE))
    requests_mock.post(
        KEYSTONE + "/auth/tokens",
        json=token,
        status_code=201,
        headers={"X-Subject-Token": "tok-123"},
    )
    requests_mock.get("http://pool.internal:6388/v1/vgpus", json={"vgpus": [fakes.VGPU]})
    code, out, _ = shell(
        [
            "--os-auth-url",
            KEYSTONE,
            "--os-username",
            "demo",
            "--os-password",
            "secret",
            "--os-project-name",
            "demo",
            "--os-user-domain-name",
            "Default",
            "--os-project-domain-name",
            "Default",
            "--os-region-name",
            "RegionOne",
            "accelerator",
            "vgpu",
            "list",
            "-f",
            "value",
            "-c",
            "Name",
        ],
        capsys,
    )
    assert (code, out) == (0, "train-1\n")
    sent = requests_mock.last_request
    assert sent.url == "http://pool.internal:6388/v1/vgpus"
    assert sent.headers["X-Auth-Token"] == "tok-123"
    assert sent.headers["OpenStack-API-Version"] == "accelerator-pool 1.0"
