"""The stack itself, with Cyborg's own fake driver: Keystone-issued tokens all
the way (service token for the ARQ bind), a tenant boots a server whose flavor
names a device profile, and deleting it gives everything back.

This is the baseline the pooled path (test_pool.py) builds on: when it fails,
the stack is broken, not pooling.
"""

import uuid

import pytest

from tests.openstack import cloud

pytestmark = [
    pytest.mark.openstack,
    pytest.mark.skipif(not cloud.stack_is_up(), reason="e2e stack not running (tox -e openstack)"),
]
FAKE_RP = "%s_FakeDevice" % cloud.HOST


@pytest.fixture(scope="module")
def admin():
    return cloud.Cloud("admin", "admin")


@pytest.fixture(scope="module")
def demo():
    return cloud.Cloud("demo", "demo")


def test_fake_device_profile_boot_and_delete(admin, demo):
    rp = cloud.rp_by_name(admin, FAKE_RP)
    if rp is None:
        pytest.skip("Cyborg's fake_driver is not enabled in this stack")
    before = cloud.usages(admin, rp["uuid"]).get("FPGA", 0)
    run = uuid.uuid4().hex[:8]
    dp = "fake-dp-" + run
    admin.cli("accelerator", "device", "profile", "create", dp,
              '[{"resources:FPGA": "1", "trait:CUSTOM_FAKE_DEVICE": "required"}]')
    admin.cli("flavor", "create", "--ram", "256", "--vcpus", "1", "--disk", "1",
              "--property", "accel:device_profile=" + dp, "accel-fake-" + run)
    try:
        srv = demo.cli("server", "create", "--flavor", "accel-fake-" + run, "--image",
                       "e2e-image", "--nic", "none", "--wait", "vm-" + run, "-f", "json")
        assert srv["status"] == "ACTIVE", srv.get("fault")
        [arq] = cloud.arqs(admin, srv["id"])
        assert arq["state"] == "Bound"
        assert arq["hostname"] == cloud.HOST
        assert arq["device_rp_uuid"] == rp["uuid"]
        assert arq["attach_handle_type"] == "TEST_PCI"
        allocs = admin.get("placement", "/allocations/%s" % srv["id"])["allocations"]
        assert allocs[rp["uuid"]]["resources"] == {"FPGA": 1}
        demo.cli("server", "delete", "--wait", srv["id"])
        assert cloud.arqs(admin, srv["id"]) == []
        assert admin.get("placement", "/allocations/%s" % srv["id"])["allocations"] == {}
        assert cloud.usages(admin, rp["uuid"]).get("FPGA", 0) == before
    finally:
        admin.cli("flavor", "delete", "accel-fake-" + run, check=False)
        admin.cli("accelerator", "device", "profile", "delete", dp, check=False)
