"""The ``libvirt`` platform: pooled vGPUs on libvirt domains of a KVM host outside Nova.

A vGPU whose consumer is ``{platform: libvirt, host: <this host>, id: <domain uuid>}``:

* **local** (its slices are on this host's cards): a fractional slice becomes a vGPU of the
  smallest type of the card covering it (mdev, or a VF with ``current_vgpu_type`` on kernels
  >= 6.8: :mod:`.sysfs`), handed over as ``<hostdev>``; a whole card goes as the PCI device. The
  type catalogue is read as Nova reads it, from libvirt's node devices (``mdev_types``
  capability), else from sysfs. A shut-off domain gets the device in its persistent definition
  (checked by libvirt's own parser); a running one is hot-plugged (live and config), and when
  the hypervisor cannot, it gets :class:`~pooling_drivers.platforms.base.ConsumerStateError`
  and nothing is left behind;
* **remote**: no device; the lease goes into the domain's persistent firmware config
  (``<sysinfo type='fwcfg'>``, entry ``opt/org.openstack/<vGPU uuid>``). QEMU reads it when it
  starts, so a running domain sees it only after it is shut off and started again (a reboot
  inside the guest keeps the same QEMU); the attachment says ``next_boot``. Neither libvirt nor
  QEMU can change firmware config live: a running guest takes its lease from the pool's API
  (``pooling run --vgpu``), doc/source/admin/libvirt.md.

Release removes the pool's hostdevs (found by their ``ua-pooling-`` alias), then the vGPUs it
made, then the lease; the record in the domain's metadata (:mod:`.domain`) lets it do so after a
restart. Options: ``uri`` (``qemu:///system``), ``sysfs_root`` (``/``), ``framework``
(``auto``, ``mdev``, ``vgpu_type``), ``vgpu_class`` (``c``), ``pci_addresses`` (``{device
uuid: BDF}`` for cards whose driver has no /proc entry, e.g. ``sim`` cards), ``type_map``
(``{pool profile: type id}``).
"""

from __future__ import annotations

from collections.abc import Sequence
import json
import logging
import re
import threading
import uuid as uuid_mod
from xml.etree import ElementTree as ET

from pooling_drivers.platforms import base
from pooling_drivers.platforms.libvirt import domain as dom_mod
from pooling_drivers.platforms.libvirt import sysfs as sysfs_mod
from pooling_drivers.platforms.vmware import profiles as profiles_mod

LOG = logging.getLogger(__name__)

_QUIET = False
_UUID = re.compile(r'^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$')
_TYPE_NAME = re.compile(r'^(?:grid|nvidia)\s+([a-z0-9]+)-(.+)$', re.IGNORECASE)


def _libvirt():
    try:
        import libvirt
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise base.PlatformUnavailableError(
            'the libvirt platform needs libvirt-python (built against libvirt-dev)') from exc
    global _QUIET
    if not _QUIET:
        # NOTE: libvirt prints every error to stderr besides raising it; we raise (or
        # expect, e.g. a domain without our metadata) and log what matters ourselves.
        libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
        _QUIET = True
    return libvirt


def profile_name(type_name: str) -> str:
    """``GRID A100-4C`` / ``NVIDIA A100-4C`` → ``grid_a100-4c`` (the vmware module's parser)."""
    found = _TYPE_NAME.match(type_name.strip())
    return f'grid_{found[1].lower()}-{found[2].lower()}' if found else type_name


class LibvirtPlatform(base.PlatformDriver):
    """vGPUs on libvirt domains of this host."""

    name = 'libvirt'
    platforms = ('libvirt',)

    def __init__(self, options=None) -> None:
        super().__init__(options)
        self.uri = str(self.options.get('uri') or 'qemu:///system')
        self.fs = self.options.get('sysfs') or sysfs_mod.Sysfs(
            str(self.options.get('sysfs_root') or '/'))
        self.framework = str(self.options.get('framework') or 'auto')
        self.vgpu_class = str(self.options.get('vgpu_class', 'c'))
        self.pci_addresses = dict(self.options.get('pci_addresses') or {})
        self.type_map = dict(self.options.get('type_map') or {})
        self._conn = None
        self._lock = threading.Lock()

    # The contract ----------------------------------------------------------
    def validate(self, request: base.PlatformRequest) -> None:
        if request.consumer.platform not in self.platforms:
            raise base.InvalidRequestError(
                f'the libvirt platform does not serve {request.consumer.platform!r} consumers')
        if not _UUID.match(request.consumer.id):
            raise base.InvalidRequestError(
                f'a libvirt consumer id is a domain uuid, not {request.consumer.id!r}')
        if not request.slices:
            raise base.InvalidRequestError(f'vGPU {request.vgpu_uuid} has no slices')

    def attach(self, request: base.PlatformRequest) -> base.PlatformAttachment:
        self.validate(request)
        with self._lock:
            dom = self._domain(request.consumer.id)
            record = self._records(dom).get(request.vgpu_uuid)
            if record:
                if record.get('mode') == 'remote':
                    self._refresh_lease(dom, request, record)
                return self._attachment(request, record)
            local = all(s.host == request.consumer.host for s in request.slices)
            if local:
                record = self._attach_local(dom, request)
            elif request.remote is not None:
                record = self._attach_remote(dom, request)
            else:
                raise base.InvalidRequestError(
                    f'vGPU {request.vgpu_uuid} is on another host and has no remote lease')
            self._save(dom, request.vgpu_uuid, record)
            return self._attachment(request, record)

    def detach(self, request: base.PlatformRequest,
               attachment: base.PlatformAttachment | None = None) -> None:
        libvirt = _libvirt()
        with self._lock:
            try:
                dom = self._domain(request.consumer.id)
            except base.ConsumerNotFoundError:
                dom = None
            record = (self._records(dom).get(request.vgpu_uuid) if dom is not None else None) \
                or (dict(attachment.details) if attachment is not None else None)
            if not record:
                return
            if dom is not None:
                self._remove_devices(dom, request.vgpu_uuid, record, libvirt)
            for item in record.get('devices') or ():
                if item.get('created'):
                    created = sysfs_mod.Created(**item['created'])
                    sysfs_mod.framework(self.fs, created.parent, created.framework).remove(
                        created)
            if dom is not None:
                self._save(dom, request.vgpu_uuid, None)
            LOG.info('vGPU %s detached from domain %s', request.vgpu_uuid, request.consumer.id)

    def reconcile(self, active: Sequence[base.PlatformRequest]) -> list[base.Drift]:
        """Remove what no ACTIVE vGPU accounts for; report hostdevs the pool added that are
        gone; attach ACTIVE vGPUs that have no record."""
        wanted = {r.vgpu_uuid: r for r in active if self.handles(r)}
        drifts, seen = [], set()
        try:
            domains = self._connect().listAllDomains()
        except base.PlatformError as exc:
            LOG.warning('reconcile: %s', exc)
            return []
        except _libvirt().libvirtError as exc:
            LOG.warning('reconcile: listing domains: %s', exc)
            return []
        for dom in domains:
            present = dom_mod.hostdevs(dom.XMLDesc(_libvirt().VIR_DOMAIN_XML_INACTIVE))
            for uuid, record in self._records(dom).items():
                seen.add(uuid)
                request = wanted.get(uuid)
                if request is None or request.consumer.id != dom.UUIDString():
                    stray = base.PlatformRequest(uuid, '', base.Consumer(
                        'libvirt', '', dom.UUIDString()), ())
                    try:
                        self.detach(stray, base.PlatformAttachment(self.name, uuid, '', record))
                        drifts.append(base.Drift(uuid, f'domain {dom.name()} holds a vGPU the '
                                                       'pool no longer has ACTIVE', 'repaired'))
                    except base.PlatformError as exc:
                        drifts.append(base.Drift(uuid, f'domain {dom.name()} holds a released '
                                                       f'vGPU: {exc}'))
                    continue
                try:
                    moved = self._move_lease(dom, uuid, record)
                except base.PlatformError as exc:
                    drifts.append(base.Drift(uuid, f'domain {dom.name()} holds the lease under '
                                                   f'a name QEMU refuses: {exc}'))
                    moved = []
                if moved:
                    drifts.append(base.Drift(uuid, f'domain {dom.name()} holds the lease under '
                                                   f'{", ".join(moved)}, a name QEMU refuses',
                                             'repaired', dom_mod.fwcfg_name(uuid) or ''))
                for item in record.get('devices') or ():
                    if item['alias'] not in present:
                        drifts.append(base.Drift(uuid, f'domain {dom.name()} lost hostdev '
                                                       f'{item["alias"]}', 'reported',
                                                 item['alias']))
        for uuid, request in wanted.items():
            if uuid not in seen:
                try:
                    self.attach(request)
                    drifts.append(base.Drift(uuid, 'ACTIVE but not attached', 'repaired'))
                except base.PlatformError as exc:
                    drifts.append(base.Drift(uuid, f'ACTIVE but not attached: {exc}'))
        return drifts

    # Local ---------------------------------------------------------------------
    def _attach_local(self, dom, request) -> dict:
        libvirt = _libvirt()
        devices, xmls = [], []
        try:
            for slice_ in request.slices:
                name = dom_mod.alias(request.vgpu_uuid, slice_.index)
                parent = self._bdf(slice_)
                if slice_.compute_milli >= 1000:
                    devices.append({'alias': name, 'kind': 'pci', 'pci': parent})
                    xmls.append(dom_mod.pci_hostdev(parent, name))
                    continue
                created = self._create(parent, slice_, request)
                devices.append({'alias': name, 'kind': created.framework,
                                'created': created.as_dict()})
                xmls.append(dom_mod.mdev_hostdev(created.ident, name)
                            if created.framework == 'mdev'
                            else dom_mod.pci_hostdev(created.ident, name))
            if dom.isActive():
                for xml in xmls:
                    try:
                        dom.attachDeviceFlags(xml, libvirt.VIR_DOMAIN_AFFECT_LIVE
                                              | libvirt.VIR_DOMAIN_AFFECT_CONFIG)
                    except libvirt.libvirtError as exc:
                        raise base.ConsumerStateError(
                            f'domain {dom.name()} is running and the vGPU could not be '
                            f'hot-plugged ({exc.get_error_message()}); shut it down and the '
                            'pool attaches it on its next pass') from exc
            else:
                self._redefine(dom, add=xmls)
        except Exception:
            self._undo(dom, devices)
            raise
        LOG.info('vGPU %s attached to domain %s: %s', request.vgpu_uuid, dom.name(),
                 [d['alias'] for d in devices])
        return {'mode': 'local', 'devices': devices}

    def _create(self, parent: str, slice_, request) -> sysfs_mod.Created:
        framework = sysfs_mod.framework(self.fs, parent, self.framework)
        types = self._catalogue(parent) if framework.name == 'mdev' else []
        types = types or framework.types(parent)
        by_profile = {profile_name(t.name): t for t in types}
        card_mb = max((p.framebuffer_mb for p in profiles_mod.offered(
            by_profile, 1 << 30)), default=0)
        wanted_type = self.type_map.get(request.profile or '')
        wanted = next((p for p, t in by_profile.items() if t.id == wanted_type), None) \
            if wanted_type else None
        if wanted_type and wanted is None:
            raise base.InvalidRequestError(
                f'vGPU type {wanted_type!r} is not offered by card {parent}; it offers '
                f'{", ".join(t.id for t in types) or "none"}')
        choice = profiles_mod.choose(slice_.compute_milli, slice_.memory_mb, list(by_profile),
                                     card_mb, vgpu_class=self.vgpu_class, wanted=wanted,
                                     where=f'{request.consumer.host} card {parent}')
        vgpu_type = by_profile[choice.profile.name]
        if vgpu_type.available == 0:
            raise base.PlatformError(f'card {parent} has no {vgpu_type.name} instance left')
        ident = str(uuid_mod.uuid5(uuid_mod.UUID(request.vgpu_uuid), str(slice_.index))) \
            if _UUID.match(request.vgpu_uuid) else str(uuid_mod.uuid4())
        created = framework.create(parent, vgpu_type.id, ident)
        LOG.info('vGPU %s slice %d: %s %s on %s (%s of %s)', request.vgpu_uuid, slice_.index,
                 created.framework, created.ident, parent, vgpu_type.name,
                 ', '.join(choice.candidates))
        return created

    def _catalogue(self, parent: str) -> list[sysfs_mod.VgpuType]:
        """The card's mdev types as libvirt's node devices list them (Nova's source)."""
        libvirt = _libvirt()
        name = 'pci_' + re.sub(r'[:.]', '_', parent)
        try:
            xml = self._connect().nodeDeviceLookupByName(name).XMLDesc()
        except libvirt.libvirtError:
            return []
        found = []
        for t in ET.fromstring(xml).iterfind(".//capability[@type='mdev_types']/type"):
            available = t.findtext('availableInstances')
            found.append(sysfs_mod.VgpuType(t.get('id'), t.findtext('name') or t.get('id'),
                                            int(available) if available else None))
        return found

    def _bdf(self, slice_) -> str:
        bdf = (slice_.pci_address or self.pci_addresses.get(slice_.device_uuid)
               or sysfs_mod.nvidia_bdf(self.fs, slice_.visible_uuid or slice_.device_uuid)
               or sysfs_mod.nvidia_bdf(self.fs, slice_.device_uuid))
        if not bdf:
            raise base.InvalidRequestError(
                f'no PCI address known for card {slice_.device_uuid} on this host (no NVIDIA '
                '/proc entry; set the libvirt pci_addresses option)')
        return bdf

    # Remote ---------------------------------------------------------------------
    def _attach_remote(self, dom, request) -> dict:
        entry = dom_mod.fwcfg_name(request.vgpu_uuid)
        if entry is None:
            raise base.InvalidRequestError(
                f'vGPU id {request.vgpu_uuid!r} makes a firmware config name longer than '
                f'QEMU\'s {dom_mod.FWCFG_NAME_MAX} characters')
        self._redefine(dom, fwcfg={entry: json.dumps(dict(request.remote.document),
                                                      sort_keys=True)})
        return {'mode': 'remote', 'devices': [], 'fwcfg': [entry],
                'next_boot': bool(dom.isActive())}

    def _refresh_lease(self, dom, request, record) -> None:
        """Write the request's lease over the domain's when it carries a credential and differs.

        The periodic sync hands over vGPUs without their credential: when its repair ran before
        the conductor's attach, the domain holds a lease without one. A lease without a
        credential never replaces one.
        """
        entry = dom_mod.fwcfg_name(request.vgpu_uuid)
        if request.remote is None or not request.remote.token or record.get('fwcfg') != [entry]:
            return
        value = json.dumps(dict(request.remote.document), sort_keys=True)
        xml = dom.XMLDesc(_libvirt().VIR_DOMAIN_XML_INACTIVE)
        if dom_mod.fwcfg_entries(xml).get(entry) != value:
            self._redefine(dom, fwcfg={entry: value})
            LOG.info('vGPU %s: lease with its credential written to domain %s',
                     request.vgpu_uuid, dom.name())

    def _move_lease(self, dom, vgpu_uuid: str, record: dict) -> list[str]:
        """Move a lease recorded under another name to ``fwcfg_name``; returns the old names.

        Releases before this one wrote names over QEMU's limit: such a domain does not start.
        The lease moves as it is (a sync brings no credential to write it anew).
        """
        name = dom_mod.fwcfg_name(vgpu_uuid)
        old = [e for e in record.get('fwcfg') or () if e != name]
        if name is None or not old:
            return []
        values = dom_mod.fwcfg_entries(dom.XMLDesc(_libvirt().VIR_DOMAIN_XML_INACTIVE))
        value = next((values[e] for e in old if e in values), None)
        changes: dict[str, str | None] = {e: None for e in old}
        if value is not None:
            changes[name] = value
        self._redefine(dom, fwcfg=changes)
        self._save(dom, vgpu_uuid, dict(record, fwcfg=[name] if value is not None else []))
        LOG.info('vGPU %s: lease in domain %s moved from %s to %s', vgpu_uuid, dom.name(),
                 ', '.join(old), name)
        return old

    # Shared ---------------------------------------------------------------------
    def _remove_devices(self, dom, vgpu_uuid, record, libvirt) -> None:
        aliases = [d['alias'] for d in record.get('devices') or ()]
        if dom.isActive():
            live = dom_mod.hostdevs(dom.XMLDesc(0))
            for name in aliases:
                if name in live:
                    try:
                        dom.detachDeviceFlags(live[name], libvirt.VIR_DOMAIN_AFFECT_LIVE
                                              | libvirt.VIR_DOMAIN_AFFECT_CONFIG)
                    except libvirt.libvirtError as exc:
                        raise base.ConsumerStateError(
                            f'domain {dom.name()} is running and hostdev {name} of vGPU '
                            f'{vgpu_uuid} could not be unplugged ({exc.get_error_message()}); '
                            'shut it down and the pool releases it on its next pass') from exc
        self._redefine(dom, remove=aliases,
                       fwcfg={e: None for e in record.get('fwcfg') or ()})

    def _undo(self, dom, devices) -> None:
        for item in devices:
            if item.get('created'):
                created = sysfs_mod.Created(**item['created'])
                try:
                    sysfs_mod.framework(self.fs, created.parent, created.framework).remove(
                        created)
                except base.PlatformError as exc:
                    LOG.warning('undoing %s: %s', created, exc)

    def _redefine(self, dom, **changes) -> None:
        libvirt = _libvirt()
        xml = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        new = dom_mod.edit(xml, **changes)
        if new == dom_mod.edit(xml):
            return
        try:
            self._connect().defineXML(new)
        except libvirt.libvirtError as exc:
            raise base.InvalidRequestError(
                f'libvirt refused the definition of domain {dom.name()}: '
                f'{exc.get_error_message()}') from exc

    def _records(self, dom) -> dict:
        libvirt = _libvirt()
        try:
            text = dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, dom_mod.NAMESPACE,
                                libvirt.VIR_DOMAIN_AFFECT_CONFIG)
        except libvirt.libvirtError:
            return {}
        return dom_mod.records(text)

    def _save(self, dom, vgpu_uuid: str, record: dict | None) -> None:
        libvirt = _libvirt()
        data = self._records(dom)
        if record is None:
            data.pop(vgpu_uuid, None)
        else:
            data[vgpu_uuid] = record
        flags = libvirt.VIR_DOMAIN_AFFECT_CONFIG | (
            libvirt.VIR_DOMAIN_AFFECT_LIVE if dom.isActive() else 0)
        try:
            dom.setMetadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT,
                            dom_mod.metadata_element(data) if data else None,
                            'pooling', dom_mod.NAMESPACE, flags)
        except libvirt.libvirtError as exc:
            raise base.PlatformError(f'recording vGPUs in domain {dom.name()}: '
                                     f'{exc.get_error_message()}') from exc

    def _attachment(self, request, record) -> base.PlatformAttachment:
        handle = ','.join(d['alias'] for d in record.get('devices') or ()) or ','.join(
            record.get('fwcfg') or ())
        return base.PlatformAttachment(self.name, request.vgpu_uuid, handle,
                                       {**record, 'domain': request.consumer.id})

    def _domain(self, ident: str):
        libvirt = _libvirt()
        try:
            return self._connect().lookupByUUIDString(ident)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                raise base.ConsumerNotFoundError(f'no libvirt domain {ident} on {self.uri}') \
                    from exc
            raise base.PlatformUnavailableError(f'libvirt {self.uri}: {exc}') from exc

    def _connect(self):
        libvirt = _libvirt()
        if self._conn is None or not self._conn.isAlive():
            try:
                self._conn = libvirt.open(self.uri)
            except libvirt.libvirtError as exc:
                raise base.PlatformUnavailableError(
                    f'cannot connect to libvirt at {self.uri}: {exc}') from exc
        return self._conn
