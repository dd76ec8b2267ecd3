"""Enter the hosts a platform discovers into the pool (vSphere: its ESXi hosts' GPUs).

ESXi hosts run no pooling-agent. The agent that runs the ``vmware`` platform driver (the one
named after the vCenter) reports, with its own heartbeat, every host the driver's
:meth:`~pooling_drivers.platforms.base.PlatformDriver.discover` returns, as if each had an agent:
one pool host per ESXi host, its cards as devices, their vGPU profiles as partition shapes (the
scheduler snaps ``hard`` requests to them, so a vSphere vGPU books exactly its profile). The
reports go through the conductor like any agent's, so the hosts stay up while the vCenter is
readable, are marked down when it is not, and their cards count in the same books as every
other card of the pool: vSphere capacity and OpenStack capacity are one pool.
"""

from __future__ import annotations

from oslo_log import log as logging

from pooling_drivers.accelerators.types import as_dict
from pooling_drivers.platforms import base

LOG = logging.getLogger(__name__)


def device_reports(driver, host: base.DiscoveredHost) -> list[dict]:
    """The devices of a discovered host as the conductor's ``report`` takes them."""
    devices = []
    for device in host.devices:
        entry = as_dict(device)
        entry['driver'] = driver.name
        shapes = ()
        if hasattr(driver, 'partition_profiles'):
            try:
                shapes = driver.partition_profiles(host.name, device.uuid)
            except base.PlatformError as exc:
                LOG.warning('%s: no shapes for %s on %s: %s', driver.name, device.uuid,
                            host.name, exc)
        entry['partition_profiles'] = as_dict(list(shapes))
        devices.append(entry)
    return devices


def report_discovered(conductor, context, drivers, pool: str, fabric: str | None = None) -> list:
    """Report every host the platform drivers discover; returns their names.

    A driver that does not discover is skipped; one whose platform is unreachable is logged
    and skipped (its hosts then miss a heartbeat, as a dead agent's would).

    :param conductor: the conductor RPC API (``report(context, host, devices)``).
    :param pool: the pool the discovered hosts belong to.
    """
    names = []
    for driver in drivers:
        try:
            hosts = driver.discover()
        except base.PlatformNotSupportedError:
            continue
        except base.PlatformError as exc:
            LOG.warning('Platform %s could not discover its hosts: %s', driver.name, exc)
            continue
        for host in hosts:
            conductor.report(context, {'name': host.name, 'pool': pool, 'fabric': fabric,
                                       'cpu_milli': 0, 'ram_mb': 0},
                             device_reports(driver, host))
            names.append(host.name)
    return names
