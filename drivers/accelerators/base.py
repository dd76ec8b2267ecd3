"""The accelerator driver contract: what every ``pooling.accelerators`` plugin implements.

One file, read top to bottom, says everything the agent may ask of a driver.  Only
:meth:`AcceleratorDriver.discover` is abstract; the optional capabilities have honest defaults:
health and topology are derived from discovery, a driver without partitions lists none, and
what a driver cannot do raises :class:`~pooling_drivers.accelerators.errors.NotSupportedError`
rather than pretending.  Drivers return the frozen dataclasses of ``types.py`` and read the
machine only through their :class:`~pooling_drivers.accelerators.seam.Seam`.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import ClassVar

from pooling_drivers.accelerators import errors
from pooling_drivers.accelerators import seam as seam_mod
from pooling_drivers.accelerators.types import Availability
from pooling_drivers.accelerators.types import DeviceInfo
from pooling_drivers.accelerators.types import HealthReport
from pooling_drivers.accelerators.types import Partition
from pooling_drivers.accelerators.types import PartitionProfile
from pooling_drivers.accelerators.types import Topology
from pooling_drivers.accelerators.types import Utilisation


class AcceleratorDriver(abc.ABC):
    """A family of accelerators on one host (all NVIDIA cards, all Ascend NPUs ...).

    :param options: the driver's own settings, strings only (they come from config files).
    :param seam: how the driver reaches the machine; a :class:`~.seam.HostSeam` by default.
    """

    #: The entry-point name, e.g. ``nvidia``.
    name: ClassVar[str]
    #: The vendor reported in :attr:`DeviceInfo.vendor`; ``''`` for drivers that mix vendors.
    vendor: ClassVar[str] = ''

    def __init__(self, options: Mapping[str, str] | None = None,
                 seam: seam_mod.Seam | None = None) -> None:
        self.options: dict[str, str] = dict(options or {})
        self.seam: seam_mod.Seam = seam if seam is not None else seam_mod.HostSeam()

    def available(self) -> Availability:
        """Say whether this driver can work here (library, tool or device nodes present).

        Must be cheap and must not raise: a missing library is ``Availability(False, why)``.

        :returns: an :class:`Availability`.
        """
        return Availability(True)

    @abc.abstractmethod
    def discover(self) -> list[DeviceInfo]:
        """List the devices of this family on this host, with their current health.

        One broken device must not hide the others: it is reported with ``healthy=False``.

        :returns: the devices, in the vendor's index order.
        :raises pooling_drivers.accelerators.errors.DriverUnavailableError: the library or tool
            went away since :meth:`available`.
        """

    def health(self) -> list[HealthReport]:
        """Report each device's health with the vendor codes behind it (e.g. NVIDIA XIDs).

        The default derives reports from :meth:`discover` without codes.

        :returns: one :class:`HealthReport` per device.
        :raises pooling_drivers.accelerators.errors.DriverUnavailableError: as :meth:`discover`.
        """
        return [HealthReport(d.uuid, d.healthy, d.health_reason) for d in self.discover()]

    def topology(self) -> Topology:
        """Describe links between devices (NVLink, HCCS, PCIe ...) and their NUMA affinity.

        The default knows no links and reports the NUMA node from :meth:`discover`.

        :returns: a :class:`Topology`.
        :raises pooling_drivers.accelerators.errors.DriverUnavailableError: as :meth:`discover`.
        """
        return Topology(numa=tuple((d.uuid, d.numa_node) for d in self.discover()))

    def utilisation(self) -> list[Utilisation]:
        """Sample how busy each device is.

        :returns: one :class:`Utilisation` per device.
        :raises pooling_drivers.accelerators.errors.NotSupportedError: the driver cannot sample.
        """
        raise errors.NotSupportedError(f'the {self.name} driver does not report utilisation')

    def partition_profiles(self, device_uuid: str) -> list[PartitionProfile]:
        """List the hardware partition shapes a device supports (MIG profiles, vNPU templates).

        :param device_uuid: a uuid from :meth:`discover`.
        :returns: the profiles, smallest first; ``[]`` when the device cannot be partitioned.
        :raises pooling_drivers.accelerators.errors.DeviceNotFoundError: unknown uuid.
        """
        self._device(device_uuid)
        return []

    def partitions(self, device_uuid: str) -> list[Partition]:
        """List the partitions that exist now on a device (including ones made by others).

        :param device_uuid: a uuid from :meth:`discover`.
        :returns: the partitions; ``[]`` when there are none.
        :raises pooling_drivers.accelerators.errors.DeviceNotFoundError: unknown uuid.
        """
        self._device(device_uuid)
        return []

    def create_partition(self, device_uuid: str, profile: str, *, memory_mb: int | None = None,
                         compute_units: int | None = None) -> Partition:
        """Cut a hardware partition of the named profile out of a device.

        :param device_uuid: a uuid from :meth:`discover`.
        :param profile: a :attr:`PartitionProfile.name` of this device.
        :param memory_mb: size for ``custom`` profiles only.
        :param compute_units: size for ``custom`` profiles only.
        :returns: the new :class:`Partition`.
        :raises pooling_drivers.accelerators.errors.NotSupportedError: no partitions here.
        :raises pooling_drivers.accelerators.errors.InsufficientCapacityError: no room left.
        :raises pooling_drivers.accelerators.errors.DeviceNotFoundError: unknown uuid.
        """
        raise errors.NotSupportedError(f'the {self.name} driver cannot create partitions')

    def destroy_partition(self, device_uuid: str, partition_uuid: str) -> None:
        """Destroy a partition made by :meth:`create_partition`.

        :param device_uuid: the parent device's uuid.
        :param partition_uuid: :attr:`Partition.uuid`.
        :raises pooling_drivers.accelerators.errors.PartitionNotFoundError: it does not exist
            (callers releasing a slice treat this as done).
        :raises pooling_drivers.accelerators.errors.DeviceBusyError: processes still use it.
        :raises pooling_drivers.accelerators.errors.NotSupportedError: no partitions here.
        """
        raise errors.NotSupportedError(f'the {self.name} driver cannot destroy partitions')

    def close(self) -> None:  # noqa: B027 - optional, no-op by default
        """Release the vendor library (e.g. ``nvmlShutdown``).  Idempotent."""

    def _device(self, device_uuid: str) -> DeviceInfo:
        for device in self.discover():
            if device.uuid == device_uuid:
                return device
        raise errors.DeviceNotFoundError(f'the {self.name} driver sees no device {device_uuid}')
