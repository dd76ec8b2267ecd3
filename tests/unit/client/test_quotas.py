"""``openstack accelerator pool quota ...`` commands."""

from osc_lib import exceptions as osc_exceptions
import pytest

from poolingclient import exceptions
from poolingclient.osc import quotas
from tests.unit.client import fakes

URL = fakes.V1 + "/quotas/" + fakes.PROJECT
QUOTA = {
    "quota": {
        "project_id": fakes.PROJECT,
        "vgpus": 10,
        "memory_mb": -1,
        "compute_percent": 400,
        "usage": {"vgpus": 2, "memory_mb": 20480, "compute_percent": 50.0},
    }
}


def test_show_a_projects_limits_and_usage(requests_mock):
    requests_mock.get(URL, json=QUOTA)
    columns, rows = fakes.run(quotas.ShowQuota, [fakes.PROJECT])
    assert columns == ("Resource", "Limit", "In Use")
    assert rows == [("vGPUs", 10, 2), ("Memory (MB)", "unlimited", 20480),
                    ("Compute %", 400, 50.0)]


def test_show_defaults_to_the_callers_project(requests_mock):
    requests_mock.get(URL, json=QUOTA)
    app = fakes.make_app()
    app.client_manager.auth_ref.project_id = fakes.PROJECT
    fakes.run(quotas.ShowQuota, [], app=app)
    assert requests_mock.last_request.url == URL


def test_show_without_project_or_token_says_so():
    app = fakes.make_app()
    app.client_manager.auth_ref = None
    with pytest.raises(osc_exceptions.CommandError, match="Give the project"):
        fakes.run(quotas.ShowQuota, [], app=app)


def test_set_sends_only_the_given_limits(requests_mock):
    requests_mock.put(URL, json=QUOTA)
    fakes.run(quotas.SetQuota, [fakes.PROJECT, "--vgpus", "10", "--compute", "400"])
    assert requests_mock.last_request.json() == {"quota": {"vgpus": 10, "compute_percent": 400}}


def test_set_needs_a_limit_and_names_flags_in_errors(requests_mock):
    with pytest.raises(osc_exceptions.CommandError, match="at least one"):
        fakes.run(quotas.SetQuota, [fakes.PROJECT])
    requests_mock.put(URL, status_code=400,
                      json=fakes.error(400, "Invalid request body at 'quota/vgpus': -5 is less "
                                            "than the minimum of -1"))
    with pytest.raises(exceptions.ApiError, match="at --vgpus: -5"):
        fakes.run(quotas.SetQuota, [fakes.PROJECT, "--vgpus", "-5"])


def test_delete(requests_mock):
    requests_mock.delete(URL, status_code=204)
    fakes.run(quotas.DeleteQuota, [fakes.PROJECT])
    assert requests_mock.last_request.method == "DELETE"
