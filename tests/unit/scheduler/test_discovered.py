"""Hosts a platform discovered (a vCenter's ESXi hosts): their cards serve only consumers that
run on them, local first; everyone else is kept off them (they run no remoting server)."""

import pytest

from pooling.scheduler import NoValidHost
from pooling.scheduler import PoolModel
from pooling.scheduler import Request
from pooling.scheduler import Scheduler


def vsphere_pool(gpu_cards=1):
    """esx-0 and esx-1 (discovered, 2 cards each), gpu-a (an agent, remoting), vc1 (no cards),
    all in fabric f1."""
    m = PoolModel()
    for name in ("esx-0", "esx-1"):
        m.add_host(name, fabric="f1", platform="vmware")
        for i in range(2):
            m.upsert_device(f"{name}-d{i}", name, "nvidia", "A100", memory_mb=40960,
                            isolation={"hard"})
    m.add_host("gpu-a", fabric="f1")
    for i in range(gpu_cards):
        m.upsert_device(f"gpu-a-d{i}", "gpu-a", "nvidia", "A100", memory_mb=40960,
                        isolation={"hard", "none"})
    m.add_host("vc1", fabric="f1")
    return m


def fill(m, host):
    for uuid in m.host(host).devices:
        d = m.device(uuid)
        m.upsert_device(uuid, host, "nvidia", "A100", memory_mb=d.memory_mb,
                        compute_used=1000, memory_used=d.memory_mb, isolation=d.isolation)


@pytest.mark.parametrize("policy", ["binpack", "spread", "fgd"])
def test_a_consumer_on_a_discovered_host_gets_its_own_cards_first(policy):
    m = vsphere_pool(gpu_cards=4)  # gpu-a has more room: spread would pick it otherwise
    s = Scheduler(m, policy)
    for locality in ("remote-allowed", "local"):
        p = s.select(Request(200, 8192, locality=locality, consumer_host="esx-1"))
        assert p.host == "esx-1" and not p.remote
        assert {sl.device_uuid for sl in p.slices} <= set(m.host("esx-1").devices)


def test_its_host_full_a_remote_allowed_vgpu_goes_to_an_agent_host_never_another_esxi():
    m = vsphere_pool()
    fill(m, "esx-1")
    s = Scheduler(m, "spread")
    p = s.select(Request(200, 8192, consumer_host="esx-1"))
    assert (p.host, p.cpu_host, p.remote) == ("gpu-a", "esx-1", True)
    fill(m, "gpu-a")
    with pytest.raises(NoValidHost, match=r"all on hosts a platform discovered \(esx-0\)"):
        s.select(Request(200, 8192, consumer_host="esx-1"))


def test_a_local_vgpu_on_a_full_host_names_that_host():
    m = vsphere_pool()
    fill(m, "esx-1")
    with pytest.raises(NoValidHost, match="consumer host esx-1 has no device"):
        Scheduler(m, "binpack").select(Request(200, 8192, locality="local",
                                               consumer_host="esx-1"))


def test_remote_required_from_a_discovered_host_skips_its_own_cards():
    m = vsphere_pool()
    p = Scheduler(m, "binpack").select(Request(200, 8192, locality="remote-required",
                                               consumer_host="esx-1"))
    assert p.host == "gpu-a"


@pytest.mark.parametrize("consumer_host", ["vc1", "gpu-a", None])
def test_other_consumers_never_get_a_discovered_hosts_card(consumer_host):
    m = vsphere_pool()
    s = Scheduler(m, "binpack")
    for _ in range(6):
        try:
            p = s.select(Request(500, 1000, consumer_host=consumer_host))
        except NoValidHost as err:
            assert "all on hosts a platform discovered (esx-0, esx-1)" in str(err)
            break
        assert p.host == "gpu-a"
        m.apply(p)
    else:
        pytest.fail("the ESXi cards were handed out")


def test_the_mark_goes_with_the_host():
    m = vsphere_pool()
    assert m.discovered_platforms == {"vmware"}
    assert m.host("esx-0").platform == "vmware" and m.host("gpu-a").platform is None
    # An ESXi host that gets an agent of its own (reported without platform) is a host again.
    m.add_host("esx-0", fabric="f1")
    m.remove_host("esx-1")
    assert m.discovered_platforms == frozenset()
    assert Scheduler(m, "binpack").select(Request(1000, 40960, consumer_host="vc1")).host in (
        "esx-0", "gpu-a")
