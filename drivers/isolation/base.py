"""The isolation contract: how a ``pooling.isolation`` plugin turns a slice into enforcement.

A slice is the part of one device that backs a vGPU.  The agent picks one plugin per slice from
the isolation level asked for and the device's vendor; the plugin makes whatever the level needs
(a MIG instance, an MPS daemon, a preload library's limits, a vNPU) and returns a
:class:`SliceAttachment`: what a consumer must be given to use the slice (environment, device
nodes, mounts, the uuid to make visible).  ``release`` undoes it and is idempotent: releasing a
slice that is already gone succeeds.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
import dataclasses
from typing import Any
from typing import ClassVar

from pooling_drivers.accelerators import base as driver_base
from pooling_drivers.accelerators import errors as driver_errors
from pooling_drivers.accelerators import seam as seam_mod
from pooling_drivers.accelerators import vendors
from pooling_drivers.accelerators.types import DeviceInfo
from pooling_drivers.accelerators.types import Partition
from pooling_drivers.accelerators.types import as_dict


class IsolationError(driver_errors.DriverError):
    """Base of the errors isolation plugins raise on purpose."""


class IsolationNotSupportedError(IsolationError):
    """The device cannot enforce the level asked for, or the plugin does not fit the vendor."""


class NoFittingProfileError(IsolationError):
    """No hardware partition profile of the device is large enough for the slice."""


@dataclasses.dataclass(frozen=True)
class SliceRequest:
    """One slice to prepare or release, as the conductor sends it to the agent.

    ``compute_milli`` is the share of the card's compute in thousandths (1000 = whole card).
    """

    vgpu_uuid: str
    index: int
    device_uuid: str
    compute_milli: int
    memory_mb: int
    isolation: str
    count: int = 1

    @classmethod
    def from_dict(cls, vgpu_uuid: str, data: Mapping[str, Any]) -> SliceRequest:
        """Build a request from the conductor's slice dict.

        :param vgpu_uuid: the vGPU the slice belongs to.
        :param data: ``{"index", "device_uuid", "compute_milli", "memory_mb", "isolation",
            "count"}``; ``isolation`` may be ``None`` (meaning ``none``).
        :returns: a :class:`SliceRequest`.
        :raises ValueError: a field is missing or has the wrong type.
        """
        try:
            return cls(vgpu_uuid=vgpu_uuid, index=int(data.get('index', 0)),
                       device_uuid=str(data['device_uuid']),
                       compute_milli=int(data.get('compute_milli') or 0),
                       memory_mb=int(data.get('memory_mb') or 0),
                       isolation=str(data.get('isolation') or 'none'),
                       count=int(data.get('count') or 1))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f'bad slice for vGPU {vgpu_uuid}: {exc!r} in {dict(data)!r}') from exc

    @property
    def core_percent(self) -> int:
        """The compute share as a whole percentage, rounded up, at least 1."""
        return max(1, -(-self.compute_milli // 10))


@dataclasses.dataclass(frozen=True)
class Mount:
    """A host path a consumer must see (a pipe folder, a preload library)."""

    host: str
    container: str
    readonly: bool = True


@dataclasses.dataclass(frozen=True)
class SliceAttachment:
    """What a consumer receives to use one slice."""

    device_uuid: str
    isolation: str
    plugin: str
    #: The uuid or id to make visible: the device's, or a partition's (``MIG-...``).
    visible_uuid: str
    env: Mapping[str, str] = dataclasses.field(default_factory=dict)
    devices: tuple[str, ...] = ()
    mounts: tuple[Mount, ...] = ()
    partition: Partition | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON attachment of the slice.

        :returns: ``{"device_uuid", "isolation", "plugin", "visible_uuid", "env", "devices",
            "mounts", "partition"}``.
        """
        data = as_dict(self)
        data['env'] = dict(self.env)
        return data


class IsolationPlugin(abc.ABC):
    """Enforces one isolation level on the devices of some vendors.

    :param options: the plugin's own settings (strings).
    :param seam: how the plugin reaches the machine (commands, files); a host seam by default.
    """

    #: The entry-point name, e.g. ``mps``.
    name: ClassVar[str]
    #: The level it enforces: one of ``hard``, ``firm``, ``soft``, ``none``.
    level: ClassVar[str]
    #: Vendors it works for; empty means every vendor.
    vendors: ClassVar[tuple[str, ...]] = ()

    def __init__(self, options: Mapping[str, Any] | None = None,
                 seam: seam_mod.Seam | None = None) -> None:
        self.options: dict[str, Any] = dict(options or {})
        self.seam: seam_mod.Seam = seam if seam is not None else seam_mod.HostSeam()

    def unavailable(self) -> str:
        """Say why this plugin cannot work on this host at all ('' when it can).

        The agent advertises a level only where its plugin is available, so the
        scheduler never places a slice that preparing would then refuse.
        """
        return ''

    def supports(self, device: DeviceInfo) -> bool:
        """Say whether this plugin can enforce its level on the device.

        :param device: the device.
        :returns: ``True`` when the vendor fits and the device lists the level.
        """
        vendor_ok = not self.vendors or device.vendor in self.vendors
        return vendor_ok and self.level in device.isolation

    @abc.abstractmethod
    def prepare(self, request: SliceRequest, device: DeviceInfo,
                driver: driver_base.AcceleratorDriver) -> SliceAttachment:
        """Make the slice's enforcement and say what its consumer needs.

        :param request: the slice.
        :param device: the device it lives on, freshly discovered.
        :param driver: the device's driver (for partitions).
        :returns: the :class:`SliceAttachment`.
        :raises IsolationNotSupportedError: the device cannot do this level.
        :raises NoFittingProfileError: no partition profile is large enough.
        :raises pooling_drivers.accelerators.errors.DriverError: the driver failed.
        """

    def release(self, request: SliceRequest, device: DeviceInfo,  # noqa: B027 - optional, no-op by default
                driver: driver_base.AcceleratorDriver,
                attachment: Mapping[str, Any] | None) -> None:
        """Undo :meth:`prepare`.  Releasing what is already gone is not an error.

        :param request: the slice.
        :param device: the device it lived on.
        :param driver: the device's driver.
        :param attachment: the dict :meth:`prepare` returned (via ``to_dict``), or ``None``
            when it is not known any more.
        :raises pooling_drivers.accelerators.errors.DeviceBusyError: still in use; retry later.
        """

    def adopt(self, request: SliceRequest, attachment: Mapping[str, Any]) -> None:  # noqa: B027 - optional, no-op by default
        """Take back a slice prepared before the agent restarted (e.g. count MPS clients).

        :param request: the slice.
        :param attachment: the dict :meth:`prepare` returned then.
        """


def visible_value(device: DeviceInfo) -> str:
    """Return what the vendor's visible-devices variable takes for a whole device.

    NVIDIA takes ``GPU-<uuid>`` (our uuids drop the prefix); other vendors take the index.

    :param device: the device.
    :returns: the value.
    """
    facts = vendors.FACTS.get(device.vendor)
    if facts is not None and facts.visible_by_uuid:
        return device.uuid if device.uuid.startswith('GPU-') else f'GPU-{device.uuid}'
    return str(device.index)


def visible_env(device: DeviceInfo, value: str | None = None) -> dict[str, str]:
    """Return the environment that makes one device (or one of its partitions) visible.

    :param device: the device.
    :param value: what to make visible instead of the whole device (a ``MIG-`` uuid ...).
    :returns: e.g. ``{"CUDA_VISIBLE_DEVICES": "GPU-...", "NVIDIA_VISIBLE_DEVICES": "GPU-..."}``.
    """
    value = value if value is not None else visible_value(device)
    facts = vendors.FACTS.get(device.vendor)
    if facts is None:
        return {}
    env = {facts.visible_env: value}
    if device.vendor == 'nvidia':
        # NOTE: the NVIDIA container runtime reads its own variable to inject the nodes.
        env['NVIDIA_VISIBLE_DEVICES'] = value
    return env
