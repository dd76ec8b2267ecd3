"""The ``<hostdev>`` elements and the record the pool writes into a libvirt domain.

Each device the pool adds carries a user alias ``ua-pooling-<vGPU uuid>-<slice index>`` (libvirt
keeps ``ua-`` aliases in the persistent XML), so release finds exactly the pool's devices. What
else was made (the mdev or VF type, a lease) is recorded as JSON in the domain's
``<metadata>`` under our namespace. Remote vGPUs reach the guest as a QEMU firmware config entry
(``<sysinfo type='fwcfg'>``, read in the guest from
``/sys/firmware/qemu_fw_cfg/by_name/opt/org.openstack/<uuid>/raw``). QEMU refuses to start a
domain with an entry name over 55 characters, so the name is ``opt/org.openstack/`` and the
vGPU uuid (54); releases before this one wrote ``opt/org.openstack.pooling/<uuid>`` (62), which
the driver's reconcile moves.
"""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree as ET

NAMESPACE = 'https://pooling.openstack.org/xmlns/libvirt/1'
META_KEY = 'vgpus'
FWCFG_PREFIX = 'opt/org.openstack/'
#: The longest fw_cfg name QEMU accepts (``-fw_cfg name=...``: "name too long (max. 55 char)").
FWCFG_NAME_MAX = 55


def fwcfg_name(vgpu_uuid: str) -> str | None:
    """The firmware config entry of a remote vGPU's lease; None when it would be too long."""
    name = FWCFG_PREFIX + vgpu_uuid
    return name if len(name) <= FWCFG_NAME_MAX else None


def fwcfg_entries(xml: str) -> dict[str, str]:
    """``{name: value}`` of the domain's firmware config entries given inline."""
    return {e.get('name'): e.text or ''
            for e in ET.fromstring(xml).iterfind("sysinfo[@type='fwcfg']/entry")
            if e.get('name') and e.get('file') is None}


def alias(vgpu_uuid: str, index: int) -> str:
    return f'ua-pooling-{vgpu_uuid}-{index}'


def mdev_hostdev(ident: str, name: str) -> str:
    """A mediated device, by UUID (``model`` is required by libvirt's parser)."""
    return (f"<hostdev mode='subsystem' type='mdev' managed='no' model='vfio-pci' "
            f"display='off'><source><address uuid='{ident}'/></source>"
            f"<alias name='{name}'/></hostdev>")


def pci_hostdev(bdf: str, name: str) -> str:
    """A whole PCI function (a card, or a VF holding a vGPU type), managed by libvirt."""
    domain, bus, rest = bdf.split(':')
    slot, function = rest.split('.')
    return (f"<hostdev mode='subsystem' type='pci' managed='yes'><source>"
            f"<address domain='0x{domain}' bus='0x{bus}' slot='0x{slot}' "
            f"function='0x{function}'/></source><alias name='{name}'/></hostdev>")


def hostdevs(xml: str, prefix: str = 'ua-pooling-') -> dict[str, str]:
    """``{alias: hostdev XML}`` of the domain's hostdevs whose alias starts with ``prefix``."""
    root = ET.fromstring(xml)
    found = {}
    for dev in root.iterfind('./devices/hostdev'):
        name = dev.find('alias')
        if name is not None and (name.get('name') or '').startswith(prefix):
            found[name.get('name')] = ET.tostring(dev, encoding='unicode')
    return found


def records(metadata: str | None) -> dict[str, Any]:
    """The pool's record from the metadata element text (``{}`` when absent or unreadable)."""
    if not metadata:
        return {}
    try:
        text = ET.fromstring(metadata).text or ''
        data = json.loads(text) if text.strip() else {}
    except (ET.ParseError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def metadata_element(data: dict[str, Any]) -> str:
    element = ET.Element(META_KEY)
    element.text = json.dumps(data, sort_keys=True)
    return ET.tostring(element, encoding='unicode')


def edit(xml: str, add: list[str] = (), remove: list[str] = (),
         fwcfg: dict[str, str | None] | None = None) -> str:
    """Return the domain XML with hostdevs added, hostdevs removed by alias and firmware config
    entries set (a value) or removed (``None``)."""
    root = ET.fromstring(xml)
    devices = root.find('devices')
    if devices is None:
        devices = ET.SubElement(root, 'devices')
    for dev in list(devices.iterfind('hostdev')):
        name = dev.find('alias')
        if name is not None and name.get('name') in remove:
            devices.remove(dev)
    for text in add:
        devices.append(ET.fromstring(text))
    for name, value in (fwcfg or {}).items():
        sysinfo = root.find("sysinfo[@type='fwcfg']")
        if sysinfo is None:
            if value is None:
                continue
            sysinfo = ET.Element('sysinfo', type='fwcfg')
            # NOTE: libvirt's schema puts <sysinfo> before <os>.
            os_element = root.find('os')
            root.insert(list(root).index(os_element) if os_element is not None else len(root),
                        sysinfo)
        for entry in list(sysinfo.iterfind('entry')):
            if entry.get('name') == name:
                sysinfo.remove(entry)
        if value is not None:
            ET.SubElement(sysinfo, 'entry', name=name).text = value
        if not list(sysinfo):
            root.remove(sysinfo)
    return ET.tostring(root, encoding='unicode')
