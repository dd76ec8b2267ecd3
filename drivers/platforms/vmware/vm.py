"""What the pool writes into a vSphere VM, and how it reads it back.

Every vGPU the pool attaches leaves a marker in the VM's ``extraConfig``: the key
``pooling.vgpu.<vGPU uuid>`` with a JSON record of exactly what was changed (device keys, the
memory reservation it found, guestinfo keys). Keys without the ``guestinfo.`` prefix are not
visible to the guest. Release and the reconciler work from that record, so the pool removes
exactly what it added even after a restart, and never touches devices it did not add.

vSphere replaces an extraConfig key on write and deletes it when the value is empty; the
govmomi simulator appends instead. Reading the last value of a key and treating an empty value
as absent is right for both.
"""

from __future__ import annotations

import json
from typing import Any

MARKER = 'pooling.vgpu.'
GUESTINFO = 'guestinfo.pooling.'
#: The guest's index of remote vGPU leases (``vmware-rpctool "info-get guestinfo.pooling.vgpus"``).
GUESTINFO_INDEX = GUESTINFO + 'vgpus'


def extra_config(vm) -> dict[str, str]:
    """The VM's extraConfig as a dict: the last value of each key, empty values dropped."""
    values: dict[str, str] = {}
    for option in (vm.config.extraConfig if vm.config else None) or ():
        values[option.key] = '' if option.value is None else str(option.value)
    return {k: v for k, v in values.items() if v != ''}


def markers(vm) -> dict[str, dict[str, Any]]:
    """``{vgpu_uuid: record}`` of every pool marker on the VM (unreadable ones are skipped)."""
    found = {}
    for key, value in extra_config(vm).items():
        if key.startswith(MARKER):
            try:
                record = json.loads(value)
            except ValueError:
                continue
            if isinstance(record, dict):
                found[key[len(MARKER):]] = record
    return found


def passthrough_devices(vm) -> dict[int, Any]:
    """``{device key: VirtualPCIPassthrough}`` of the VM."""
    from pyVmomi import vim
    devices = (vm.config.hardware.device if vm.config else None) or ()
    return {d.key: d for d in devices if isinstance(d, vim.vm.device.VirtualPCIPassthrough)}


def describe(device) -> dict[str, Any]:
    """What a passthrough device is, in the terms of a marker record."""
    from pyVmomi import vim
    backing = device.backing
    if isinstance(backing, vim.vm.device.VirtualPCIPassthrough.VmiopBackingInfo):
        return {'kind': 'vgpu', 'profile': backing.vgpu}
    if isinstance(backing, vim.vm.device.VirtualPCIPassthrough.DynamicBackingInfo):
        return {'kind': 'dynamic', 'label': backing.customLabel or ''}
    if isinstance(backing, vim.vm.device.VirtualPCIPassthrough.DeviceBackingInfo):
        return {'kind': 'directpath', 'pci': backing.id}
    return {'kind': 'other'}


def option(key: str, value: str):
    from pyVmomi import vim
    return vim.option.OptionValue(key=key, value=value)


def dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True, separators=(',', ':'))
