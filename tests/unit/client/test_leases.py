"""``openstack accelerator vgpu lease show|renew|revoke`` against a mocked API."""

import json
import os
import stat

from poolingclient.osc import leases
from tests.unit.client import fakes

URL = fakes.V1 + "/vgpus/" + fakes.VGPU_UUID + "/lease"
LEASE = {"version": 1, "vgpu_uuid": fakes.VGPU_UUID, "protocol": "sim",
         "endpoints": [{"gateway": "gpu-1:14830", "lease_id": "l-1", "cards": 1}],
         "expires_at": "2026-12-03T00:00:00Z", "ca_cert": "-----BEGIN CERTIFICATE-----\n"}


def _vgpu(requests_mock):
    requests_mock.get(fakes.V1 + "/vgpus/" + fakes.VGPU_UUID, json=fakes.VGPU)


def test_show_gets_the_lease_without_credential_at_1_1(requests_mock):
    _vgpu(requests_mock)
    requests_mock.get(URL, json=LEASE)
    row = fakes.row_dict(*fakes.run(leases.ShowLease, [fakes.VGPU_UUID]))
    assert row["gateways"] == ["gpu-1:14830"] and "token" not in row
    sent = requests_mock.last_request.headers["OpenStack-API-Version"]
    assert sent == "accelerator-pool 1.3"


def test_show_with_a_file_issues_a_credential_and_writes_a_private_lease(requests_mock, tmp_path):
    _vgpu(requests_mock)
    requests_mock.post(URL, json=dict(LEASE, token="t" * 43), status_code=201)
    path = str(tmp_path / "lease.json")
    row = fakes.row_dict(*fakes.run(leases.ShowLease, [fakes.VGPU_UUID, "--file", path]))
    assert "token" not in row  # not printed unless --credential
    assert requests_mock.last_request.method == "POST"
    with open(path) as f:
        assert json.load(f)["token"] == "t" * 43
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_credential_is_shown_when_asked(requests_mock):
    _vgpu(requests_mock)
    requests_mock.post(URL, json=dict(LEASE, token="t" * 43), status_code=201)
    row = fakes.row_dict(*fakes.run(leases.ShowLease, [fakes.VGPU_UUID, "--credential"]))
    assert row["token"] == "t" * 43


def test_renew_and_revoke(requests_mock):
    _vgpu(requests_mock)
    requests_mock.put(URL, json=LEASE)
    requests_mock.delete(URL, status_code=204)
    assert fakes.row_dict(*fakes.run(leases.RenewLease, [fakes.VGPU_UUID]))["expires_at"]
    fakes.run(leases.RevokeLease, [fakes.VGPU_UUID])
    assert requests_mock.last_request.method == "DELETE"
