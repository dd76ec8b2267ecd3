"""Prepare and release the slices of vGPUs on this host.

The conductor asks the agent to prepare each slice of a vGPU; the agent finds the slice's device
among its drivers' devices, picks the ``pooling.isolation`` plugin for the device's vendor and the
level asked for, and returns the plugin's attachment as JSON.  Release undoes it, is idempotent,
and never fails for a slice that is already released.

What was prepared is remembered (in memory, and under ``state_dir`` when configured) so that a
release after an agent restart still knows which partition to destroy.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
import json
import logging
import os
import threading
from typing import Any

from stevedore import driver as stevedore_driver

from pooling_drivers.accelerators import base as driver_base
from pooling_drivers.accelerators import errors as driver_errors
from pooling_drivers.accelerators.types import DeviceInfo
from pooling_drivers.isolation import base as iso

LOG = logging.getLogger(__name__)

NAMESPACE = 'pooling.isolation'

#: (level, vendor) → plugin name; vendor ``*`` matches any vendor.
DEFAULT_PLUGINS: dict[tuple[str, str], str] = {
    ('none', '*'): 'none',
    ('soft', '*'): 'hami',
    ('firm', '*'): 'mps',
    ('hard', 'nvidia'): 'mig',
    ('hard', 'ascend'): 'ascend-vnpu',
    ('hard', 'hygon'): 'hygon-vdcu',
}


class SliceError(driver_errors.DriverError):
    """A slice cannot be prepared or released."""


class DeviceUnknownError(SliceError):
    """No enabled driver on this host sees the slice's device."""


class DeviceUnhealthyError(SliceError):
    """The slice's device is unhealthy and takes no new slices."""


class SlicePreparer:
    """Turns slices into attachments with the isolation plugins.

    :param drivers: the agent's loaded accelerator drivers.
    :param options: ``{"plugins": {"<level>" or "<vendor>:<level>": "<plugin>"},
        "state_dir": "<path>", "<plugin name>": {<plugin options>}}``; all optional.
    :param seam: passed to the isolation plugins (tests); ``None`` for the real host.
    """

    def __init__(self, drivers: Sequence[driver_base.AcceleratorDriver],
                 options: Mapping[str, Any] | None = None, seam: Any = None) -> None:
        self.drivers = list(drivers)
        self.options = dict(options or {})
        self.seam = seam
        self.state_dir = self.options.get('state_dir') or ''
        self._plugins: dict[str, iso.IsolationPlugin] = {}
        self._devices: dict[str, tuple[driver_base.AcceleratorDriver, DeviceInfo]] = {}
        self._records: dict[tuple[str, int], dict[str, Any]] = {}
        # NOTE: the agent's RPC server runs handlers on many threads; records,
        # the device cache and the plugin cache change only under this lock.
        self._lock = threading.RLock()
        self._restore()

    def records(self) -> list[tuple[str, int, dict[str, Any]]]:
        """``(vgpu uuid, index, record)`` of every slice prepared here and not released."""
        with self._lock:
            return [(key[0], key[1], record) for key, record in sorted(self._records.items())]

    def enforceable(self, device_uuid: str, levels) -> list[str]:
        """The levels among ``levels`` that this host can enforce on the device.

        A level stays when its plugin loads and says it is available here: a
        simulated NVIDIA card without ``nvidia-cuda-mps-control`` does not
        advertise ``firm`` (issue 13: vGPUs were placed, then went ERROR).
        """
        try:
            with self._lock:
                _driver, device = self._find(device_uuid, refresh=False)
        except DeviceUnknownError:
            return list(levels)
        kept = []
        for level in levels:
            try:
                with self._lock:
                    plugin = self._plugin(self.plugin_name(device, level))
            except iso.IsolationNotSupportedError:
                continue
            why = plugin.unavailable()
            if why:
                LOG.debug('%s isolation not advertised on %s: %s', level, device_uuid, why)
                continue
            kept.append(level)
        return kept

    def prepare_slice(self, request: iso.SliceRequest) -> dict[str, Any]:
        """Prepare one slice from its typed request (the agent's path)."""
        with self._lock:
            return self._prepare(request)

    def release_slice(self, request: iso.SliceRequest,
                      attachment: Mapping[str, Any] | None = None) -> None:
        """Release one slice from its typed request (the agent's path)."""
        with self._lock:
            self._release(request, attachment)

    def plugin_name(self, device: DeviceInfo, level: str) -> str:
        """Return the plugin that enforces a level on a device.

        :param device: the device.
        :param level: ``hard``, ``firm``, ``soft`` or ``none``.
        :returns: a ``pooling.isolation`` entry-point name.
        :raises pooling_drivers.isolation.base.IsolationNotSupportedError: no plugin for it.
        """
        overrides = self.options.get('plugins') or {}
        for key in (f'{device.vendor}:{level}', level):
            if key in overrides:
                return overrides[key]
        for key in ((level, device.vendor), (level, '*')):
            if key in DEFAULT_PLUGINS:
                return DEFAULT_PLUGINS[key]
        raise iso.IsolationNotSupportedError(
            f'no isolation plugin for {level!r} on {device.vendor} devices')

    def prepare(self, vgpu_uuid: str, slice: Mapping[str, Any]) -> dict[str, Any]:
        """Prepare one slice and return its attachment.

        :param vgpu_uuid: the vGPU.
        :param slice: ``{"index", "device_uuid", "compute_milli", "memory_mb", "isolation",
            "count"}``.
        :returns: the JSON attachment: ``{"device_uuid", "isolation", "plugin",
            "visible_uuid", "env", "devices", "mounts", "partition"}``.
        :raises ValueError: the slice dict is malformed.
        :raises DeviceUnknownError: no driver here sees the device.
        :raises DeviceUnhealthyError: the device is unhealthy.
        :raises pooling_drivers.isolation.base.IsolationNotSupportedError: the device does not
            support the level.
        :raises pooling_drivers.accelerators.errors.DriverError: the plugin or driver failed.
        """
        request = iso.SliceRequest.from_dict(vgpu_uuid, slice)
        return self.prepare_slice(request)

    def _prepare(self, request: iso.SliceRequest) -> dict[str, Any]:
        vgpu_uuid = request.vgpu_uuid
        key = (vgpu_uuid, request.index)
        if key in self._records:
            # NOTE: a retried prepare (the conductor's RPC timed out) must not carve twice.
            return self._records[key]['attachment']
        driver, device = self._find(request.device_uuid, refresh=True)
        if not device.healthy:
            raise DeviceUnhealthyError(
                f'device {device.uuid} is unhealthy ({device.health_reason}); no new slices')
        if request.isolation not in device.isolation:
            raise iso.IsolationNotSupportedError(
                f'device {device.uuid} ({device.vendor} {device.model}) does not support '
                f'{request.isolation!r} isolation; supports {", ".join(device.isolation)}')
        plugin = self._plugin(self.plugin_name(device, request.isolation))
        if not plugin.supports(device):
            raise iso.IsolationNotSupportedError(
                f'isolation plugin {plugin.name} cannot serve {device.vendor} device '
                f'{device.uuid}')
        attachment = plugin.prepare(request, device, driver).to_dict()
        self._remember(key, request, attachment)
        LOG.info('prepared slice %s/%s on %s with %s', vgpu_uuid, request.index, device.uuid,
                 plugin.name)
        return attachment

    def release(self, vgpu_uuid: str, slice: Mapping[str, Any]) -> None:
        """Release one slice.  Idempotent: an already-released slice is a no-op.

        :param vgpu_uuid: the vGPU.
        :param slice: the slice dict given to :meth:`prepare`; an ``attachment`` key, if
            present, is used when this agent has no record of the slice.
        :raises SliceError: the slice is still in use and could not be released (retry).
        """
        try:
            request = iso.SliceRequest.from_dict(vgpu_uuid, slice)
        except ValueError:
            LOG.warning('release of vGPU %s: malformed slice %r ignored', vgpu_uuid, slice)
            return
        self.release_slice(request, slice.get('attachment'))

    def _release(self, request: iso.SliceRequest, given: Mapping[str, Any] | None) -> None:
        vgpu_uuid = request.vgpu_uuid
        key = (vgpu_uuid, request.index)
        record = self._records.get(key)
        attachment = (record or {}).get('attachment') or given
        if attachment is None:
            LOG.info('slice %s/%s has no record: already released', vgpu_uuid, request.index)
            return
        try:
            driver, device = self._find(request.device_uuid, refresh=False)
        except DeviceUnknownError:
            LOG.warning('slice %s/%s: device %s is gone; forgetting the slice', vgpu_uuid,
                        request.index, request.device_uuid)
            self._forget(key)
            return
        try:
            plugin = self._plugin(attachment.get('plugin') or
                                  self.plugin_name(device, request.isolation))
            plugin.release(request, device, driver, attachment)
        except driver_errors.DeviceBusyError as exc:
            raise SliceError(f'slice {vgpu_uuid}/{request.index} is still in use: {exc}') from exc
        except driver_errors.DriverError as exc:
            LOG.warning('slice %s/%s release on %s: %s', vgpu_uuid, request.index, device.uuid,
                        exc)
        self._forget(key)

    def _find(self, device_uuid: str, refresh: bool):
        if refresh or device_uuid not in self._devices:
            self._devices = {}
            for drv in self.drivers:
                try:
                    for device in drv.discover():
                        self._devices[device.uuid] = (drv, device)
                except driver_errors.DriverError as exc:
                    LOG.warning('driver %s discovery failed: %s', drv.name, exc)
        if device_uuid not in self._devices:
            raise DeviceUnknownError(f'no enabled driver on this host sees device {device_uuid}')
        return self._devices[device_uuid]

    def _plugin(self, name: str) -> iso.IsolationPlugin:
        if name not in self._plugins:
            try:
                manager = stevedore_driver.DriverManager(
                    NAMESPACE, name, invoke_on_load=True,
                    invoke_kwds={'options': self.options.get(name) or {}, 'seam': self.seam})
            except Exception as exc:  # stevedore raises NoMatches or the import error
                raise iso.IsolationNotSupportedError(
                    f'isolation plugin {name!r} cannot be loaded: {exc}') from exc
            self._plugins[name] = manager.driver
        return self._plugins[name]

    def _state_path(self, key: tuple[str, int]) -> str:
        return os.path.join(self.state_dir, f'{key[0]}-{key[1]}.json')

    def _remember(self, key, request: iso.SliceRequest, attachment: dict[str, Any]) -> None:
        record = {'vgpu_uuid': key[0], 'slice': {
            'index': request.index, 'device_uuid': request.device_uuid,
            'compute_milli': request.compute_milli, 'memory_mb': request.memory_mb,
            'isolation': request.isolation, 'count': request.count}, 'attachment': attachment}
        self._records[key] = record
        if self.state_dir:
            os.makedirs(self.state_dir, exist_ok=True)
            tmp = self._state_path(key) + '.tmp'
            with open(tmp, 'w', encoding='utf-8') as handle:
                json.dump(record, handle)
            os.replace(tmp, self._state_path(key))

    def _forget(self, key) -> None:
        self._records.pop(key, None)
        if self.state_dir:
            try:
                os.remove(self._state_path(key))
            except FileNotFoundError:
                pass

    def _restore(self) -> None:
        if not self.state_dir or not os.path.isdir(self.state_dir):
            return
        for name in sorted(os.listdir(self.state_dir)):
            if not name.endswith('.json'):
                continue
            try:
                with open(os.path.join(self.state_dir, name), encoding='utf-8') as handle:
                    record = json.load(handle)
                request = iso.SliceRequest.from_dict(record['vgpu_uuid'], record['slice'])
            except (OSError, ValueError, KeyError) as exc:
                LOG.warning('slice state %s unreadable, ignored: %s', name, exc)
                continue
            self._records[(request.vgpu_uuid, request.index)] = record
            plugin_name = record['attachment'].get('plugin')
            try:
                if plugin_name:
                    self._plugin(plugin_name).adopt(request, record['attachment'])
            except iso.IsolationError as exc:
                LOG.warning('slice state %s: %s', name, exc)
