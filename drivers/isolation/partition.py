"""``mig``, ``ascend-vnpu``, ``hygon-vdcu``: hard isolation through hardware partitions.

Each slice becomes one partition made by the device's driver: the smallest MIG GPU instance
(with its compute instance), or Ascend vNPU template, that holds the slice's memory and compute
share; or a Hygon vDCU sized to the slice.  The scheduler snaps hard requests to these shapes, so
"smallest that fits" is the shape it accounted for.  Release destroys the partition; one that is
already gone counts as released.
"""

from __future__ import annotations

from collections.abc import Mapping
import logging
from typing import Any

from pooling_drivers.accelerators import errors as driver_errors
from pooling_drivers.accelerators.types import DeviceInfo
from pooling_drivers.accelerators.types import Partition
from pooling_drivers.accelerators.types import PartitionProfile
from pooling_drivers.isolation import base

LOG = logging.getLogger(__name__)


def fitting_profile(profiles: list[PartitionProfile], request: base.SliceRequest
                    ) -> PartitionProfile | None:
    """Pick the smallest profile that holds the slice.

    :param profiles: the device's profiles.
    :param request: the slice.
    :returns: the profile, or ``None`` if none is large enough.
    """
    fits = [p for p in profiles
            if p.memory_mb >= request.memory_mb and p.compute_milli >= request.compute_milli]
    if not fits:
        return None
    return min(fits, key=lambda p: (p.custom, p.compute_milli, p.memory_mb, p.profile_id))


class PartitionPlugin(base.IsolationPlugin):
    """Shared prepare/release for plugins backed by ``create_partition``."""

    level = 'hard'

    def _create(self, request, device, driver) -> Partition:
        profiles = driver.partition_profiles(device.uuid)
        if not profiles:
            raise base.IsolationNotSupportedError(
                f'device {device.uuid} ({device.model}) has no hardware partitions')
        profile = fitting_profile(profiles, request)
        if profile is None:
            raise base.NoFittingProfileError(
                f'no {self.name} profile of {device.model} holds {request.memory_mb} MiB and '
                f'{request.compute_milli}/1000 compute; has '
                + ', '.join(p.name for p in profiles))
        if profile.custom:
            units = max(1, -(-request.compute_milli * device.compute_units // 1000))
            return driver.create_partition(device.uuid, profile.name,
                                           memory_mb=request.memory_mb, compute_units=units)
        return driver.create_partition(device.uuid, profile.name)

    def _attachment(self, device: DeviceInfo, part: Partition, env: dict[str, str],
                    mounts: tuple[base.Mount, ...] = ()) -> base.SliceAttachment:
        return base.SliceAttachment(
            device_uuid=device.uuid, isolation=self.level, plugin=self.name,
            visible_uuid=part.uuid, env=env, devices=part.device_nodes or device.device_nodes,
            mounts=mounts, partition=part)

    def release(self, request, device, driver, attachment: Mapping[str, Any] | None):
        part = (attachment or {}).get('partition') or {}
        part_uuid = part.get('uuid')
        if not part_uuid:
            LOG.warning('slice %s/%s on %s: no partition recorded, nothing to destroy',
                        request.vgpu_uuid, request.index, device.uuid)
            return
        try:
            driver.destroy_partition(device.uuid, part_uuid)
        except driver_errors.PartitionNotFoundError:
            LOG.info('partition %s on %s already gone', part_uuid, device.uuid)


class MigPlugin(PartitionPlugin):
    """A MIG GPU instance + compute instance per slice (NVIDIA A100/H100/H200/B200 ...)."""

    name = 'mig'
    vendors = ('nvidia',)

    def prepare(self, request, device, driver):
        part = self._create(request, device, driver)
        return self._attachment(device, part, base.visible_env(device, part.uuid))


class AscendVnpuPlugin(PartitionPlugin):
    """A static vNPU of the fitting template (``npu-smi set -t create-vnpu`` / DCMI).

    The Ascend docker runtime takes the vNPU id in ``ASCEND_VISIBLE_DEVICES``.
    """

    name = 'ascend-vnpu'
    vendors = ('ascend',)

    def prepare(self, request, device, driver):
        part = self._create(request, device, driver)
        env = base.visible_env(device, part.uuid)
        return self._attachment(device, part, env)


class HygonVdcuPlugin(PartitionPlugin):
    """A vDCU sized to the slice (CUs and memory), as HAMi's dcu-vgpu-device-plugin does.

    The consumer sees the vDCU's config file as ``/etc/vdev/vdev0.conf`` (HAMi's layout).
    """

    name = 'hygon-vdcu'
    vendors = ('hygon',)

    def prepare(self, request, device, driver):
        part = self._create(request, device, driver)
        conf = dict(part.handle).get('conf') or f'/etc/vdev/{part.uuid}.conf'
        env = base.visible_env(device, '0')
        return self._attachment(device, part, env,
                                mounts=(base.Mount(conf, '/etc/vdev/vdev0.conf'),))
