"""MIG through NVML: profiles, existing GPU/compute instances, and making and destroying them.

A slice with ``hard`` isolation on an NVIDIA card is one GPU instance with one compute instance
spanning it, so the consumer gets one ``MIG-`` uuid.  Instances made by others (``nvidia-smi
mig``, the GPU operator) are listed too, so the agent can adopt or report them.

NVML fills C arrays for instance lists; we size them from each profile's ``instanceCount``.
"""

from __future__ import annotations

import ctypes
import dataclasses
from typing import Any

from pooling_drivers.accelerators import errors
from pooling_drivers.accelerators.types import DeviceInfo
from pooling_drivers.accelerators.types import Partition
from pooling_drivers.accelerators.types import PartitionProfile

# GPU-instance profile constants worth asking about, with the name suffix NVML gives them.
_GI_PROFILES = (
    ('NVML_GPU_INSTANCE_PROFILE_1_SLICE', ''), ('NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV1', '+me'),
    ('NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV2', ''), ('NVML_GPU_INSTANCE_PROFILE_2_SLICE', ''),
    ('NVML_GPU_INSTANCE_PROFILE_2_SLICE_REV1', '+me'), ('NVML_GPU_INSTANCE_PROFILE_3_SLICE', ''),
    ('NVML_GPU_INSTANCE_PROFILE_4_SLICE', ''), ('NVML_GPU_INSTANCE_PROFILE_6_SLICE', ''),
    ('NVML_GPU_INSTANCE_PROFILE_7_SLICE', ''), ('NVML_GPU_INSTANCE_PROFILE_8_SLICE', ''),
)
# Compute-instance profile spanning a whole GPU instance of N slices.
_CI_FOR_SLICES = {n: f'NVML_COMPUTE_INSTANCE_PROFILE_{n}_SLICE' for n in (1, 2, 3, 4, 6, 7, 8)}


@dataclasses.dataclass(frozen=True)
class Found:
    """An existing GPU instance: our view of it and the NVML handles to destroy it."""

    partition: Partition
    gpu_instance: Any
    compute_instances: tuple[Any, ...]


def _text(value: Any) -> str:
    return value.decode('utf-8', 'replace') if isinstance(value, bytes) else str(value)


def map_error(nvml: Any, exc: Exception, what: str) -> errors.DriverError:
    """Turn an ``NVMLError`` into our typed error.

    :param nvml: the binding (for the error constants).
    :param exc: the NVML error.
    :param what: what we were doing, for the message.
    :returns: the typed error to raise.
    """
    value = getattr(exc, 'value', None)
    message = f'{what}: {exc}'
    if value == nvml.NVML_ERROR_INSUFFICIENT_RESOURCES:
        return errors.InsufficientCapacityError(message)
    if value == nvml.NVML_ERROR_IN_USE:
        return errors.DeviceBusyError(message)
    if value in (nvml.NVML_ERROR_NOT_SUPPORTED, nvml.NVML_ERROR_NO_PERMISSION):
        return errors.NotSupportedError(message)
    if value == nvml.NVML_ERROR_NOT_FOUND:
        return errors.PartitionNotFoundError(message)
    return errors.DriverError(message)


def mig_enabled(nvml: Any, handle: Any) -> bool:
    """Say whether MIG mode is on now (pending changes do not count).

    :param nvml: the binding.
    :param handle: a device handle.
    :returns: ``True`` if the current MIG mode is enabled.
    """
    try:
        current, _pending = nvml.nvmlDeviceGetMigMode(handle)
    except nvml.NVMLError:
        return False
    return current == nvml.NVML_DEVICE_MIG_ENABLE


def gi_profiles(nvml: Any, handle: Any) -> list[tuple[PartitionProfile, Any]]:
    """List the device's GPU-instance profiles, smallest first, with NVML's profile info.

    :param nvml: the binding.
    :param handle: a device handle in MIG mode.
    :returns: ``(PartitionProfile, info)`` pairs; ``[]`` when MIG is not supported.
    """
    infos = []
    for constant, suffix in _GI_PROFILES:
        if not hasattr(nvml, constant):
            continue
        try:
            info = nvml.nvmlDeviceGetGpuInstanceProfileInfo(handle, getattr(nvml, constant))
        except nvml.NVMLError:
            continue
        if info.instanceCount:
            infos.append((info, suffix))
    full = max((info.sliceCount for info, _s in infos), default=1)
    result = []
    for info, suffix in infos:
        name = _text(getattr(info, 'name', b'') or b'').replace('MIG ', '').strip()
        if not name:
            name = f'{info.sliceCount}g.{round(info.memorySizeMB / 1024)}gb{suffix}'
        result.append((PartitionProfile(
            name=name, profile_id=int(info.id), memory_mb=int(info.memorySizeMB),
            compute_units=int(info.multiprocessorCount),
            compute_milli=int(info.sliceCount) * 1000 // full,
            max_instances=int(info.instanceCount),
            placements=_placements(nvml, handle, info)), info))
    return sorted(result, key=lambda pair: (pair[0].compute_milli, pair[0].memory_mb,
                                            pair[0].profile_id))


def _placements(nvml, handle, info) -> tuple[int, ...]:
    array = (nvml.c_nvmlGpuInstancePlacement_t * max(int(info.instanceCount), 8))()
    count = ctypes.c_uint(len(array))
    try:
        nvml.nvmlDeviceGetGpuInstancePossiblePlacements(handle, info.id, array,
                                                         ctypes.byref(count))
    except nvml.NVMLError:
        return ()
    return tuple(int(array[i].start) for i in range(count.value))


def _mig_uuids(nvml, handle) -> dict[tuple[int, int], str]:
    found = {}
    try:
        slots = nvml.nvmlDeviceGetMaxMigDeviceCount(handle)
    except nvml.NVMLError:
        return found
    for i in range(slots):
        try:
            mig = nvml.nvmlDeviceGetMigDeviceHandleByIndex(handle, i)
            key = (int(nvml.nvmlDeviceGetGpuInstanceId(mig)),
                   int(nvml.nvmlDeviceGetComputeInstanceId(mig)))
            found[key] = _text(nvml.nvmlDeviceGetUUID(mig))
        except nvml.NVMLError:
            continue
    return found


def _compute_instances(nvml, gpu_instance) -> list[tuple[Any, Any]]:
    result = []
    for constant in sorted(set(_CI_FOR_SLICES.values())):
        if not hasattr(nvml, constant):
            continue
        try:
            pinfo = nvml.nvmlGpuInstanceGetComputeInstanceProfileInfo(
                gpu_instance, getattr(nvml, constant),
                nvml.NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_SHARED)
            array = (nvml.c_nvmlComputeInstance_t * max(int(pinfo.instanceCount), 1))()
            count = ctypes.c_uint(0)
            nvml.nvmlGpuInstanceGetComputeInstances(gpu_instance, pinfo.id, array,
                                                    ctypes.byref(count))
        except nvml.NVMLError:
            continue
        for i in range(count.value):
            result.append((array[i], nvml.nvmlComputeInstanceGetInfo(array[i])))
    return result


def instances(nvml: Any, handle: Any, device_uuid: str) -> list[Found]:
    """List the GPU instances that exist on a device, each with its compute instances.

    :param nvml: the binding.
    :param handle: the device handle.
    :param device_uuid: the device's uuid, for the partitions' ``device_uuid``.
    :returns: one :class:`Found` per GPU instance; its partition's uuid is the ``MIG-`` uuid
        of its first compute instance (``gi-<id>`` when it has none).
    """
    uuids = _mig_uuids(nvml, handle)
    result = []
    for profile, info in gi_profiles(nvml, handle):
        array = (nvml.c_nvmlGpuInstance_t * max(int(info.instanceCount), 1))()
        count = ctypes.c_uint(0)
        try:
            nvml.nvmlDeviceGetGpuInstances(handle, info.id, array, ctypes.byref(count))
        except nvml.NVMLError:
            continue
        for i in range(count.value):
            gpu_instance = array[i]
            gi_info = nvml.nvmlGpuInstanceGetInfo(gpu_instance)
            cis = _compute_instances(nvml, gpu_instance)
            ci_ids = [int(ci_info.id) for _ci, ci_info in cis]
            uuid = uuids.get((int(gi_info.id), ci_ids[0])) if ci_ids else None
            handle_ids = (('gi', str(gi_info.id)), ('ci', ','.join(map(str, ci_ids))),
                          ('placement', str(gi_info.placement.start)),
                          ('profile_id', str(info.id)))
            result.append(Found(Partition(
                uuid=uuid or f'gi-{gi_info.id}', device_uuid=device_uuid, profile=profile.name,
                memory_mb=profile.memory_mb, compute_units=profile.compute_units,
                handle=handle_ids), gpu_instance, tuple(ci for ci, _info in cis)))
    return result


def create(nvml: Any, handle: Any, device: DeviceInfo, profile_name: str) -> Partition:
    """Make one GPU instance of a profile with one compute instance spanning it.

    :param nvml: the binding.
    :param handle: the device handle.
    :param device: the device.
    :param profile_name: e.g. ``3g.71gb``.
    :returns: the new partition, its uuid the ``MIG-`` uuid.
    :raises pooling_drivers.accelerators.errors.NotSupportedError: unknown profile.
    :raises pooling_drivers.accelerators.errors.InsufficientCapacityError: no room.
    """
    table = {profile.name: (profile, info) for profile, info in gi_profiles(nvml, handle)}
    if profile_name not in table:
        raise errors.NotSupportedError(
            f'GPU {device.uuid} has no MIG profile {profile_name!r}; has: {", ".join(table)}')
    profile, info = table[profile_name]
    try:
        if not nvml.nvmlDeviceGetGpuInstanceRemainingCapacity(handle, info.id):
            raise errors.InsufficientCapacityError(
                f'no room for another {profile_name} on GPU {device.uuid}')
        gpu_instance = nvml.nvmlDeviceCreateGpuInstance(handle, info.id)
    except nvml.NVMLError as exc:
        raise map_error(nvml, exc, f'creating a {profile_name} GPU instance') from exc
    try:
        ci_profile = nvml.nvmlGpuInstanceGetComputeInstanceProfileInfo(
            gpu_instance, getattr(nvml, _CI_FOR_SLICES[int(info.sliceCount)]),
            nvml.NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_SHARED)
        compute_instance = nvml.nvmlGpuInstanceCreateComputeInstance(gpu_instance, ci_profile.id)
        gi_info = nvml.nvmlGpuInstanceGetInfo(gpu_instance)
        ci_id = int(nvml.nvmlComputeInstanceGetInfo(compute_instance).id)
    except nvml.NVMLError as exc:
        # NOTE: never leave a GPU instance without its compute instance behind.
        try:
            nvml.nvmlGpuInstanceDestroy(gpu_instance)
        except nvml.NVMLError:
            pass
        raise map_error(nvml, exc, f'creating the compute instance of {profile_name}') from exc
    uuid = _mig_uuids(nvml, handle).get((int(gi_info.id), ci_id))
    if uuid is None:
        raise errors.DriverError(f'NVML made GI {gi_info.id}/CI {ci_id} but shows no MIG uuid')
    return Partition(uuid=uuid, device_uuid=device.uuid, profile=profile.name,
                     memory_mb=profile.memory_mb, compute_units=profile.compute_units,
                     device_nodes=device.device_nodes,
                     handle=(('gi', str(gi_info.id)), ('ci', str(ci_id)),
                             ('placement', str(gi_info.placement.start)),
                             ('profile_id', str(info.id))))


def destroy(nvml: Any, handle: Any, device_uuid: str, partition_uuid: str) -> None:
    """Destroy a GPU instance and its compute instances.

    :param nvml: the binding.
    :param handle: the device handle.
    :param device_uuid: the device's uuid.
    :param partition_uuid: the ``MIG-`` uuid (or ``gi-<id>``).
    :raises pooling_drivers.accelerators.errors.PartitionNotFoundError: no such instance.
    :raises pooling_drivers.accelerators.errors.DeviceBusyError: processes still use it.
    """
    for found in instances(nvml, handle, device_uuid):
        if found.partition.uuid != partition_uuid:
            continue
        try:
            for compute_instance in found.compute_instances:
                nvml.nvmlComputeInstanceDestroy(compute_instance)
            nvml.nvmlGpuInstanceDestroy(found.gpu_instance)
        except nvml.NVMLError as exc:
            raise map_error(nvml, exc, f'destroying {partition_uuid}') from exc
        return
    raise errors.PartitionNotFoundError(f'GPU {device_uuid} has no MIG instance {partition_uuid}')
