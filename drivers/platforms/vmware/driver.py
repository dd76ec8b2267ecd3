"""The ``vmware`` platform: pooled vGPUs on vSphere VMs, and ESXi hosts' GPUs in the pool.

Nova's vmware driver takes no accelerators, so the pool drives vCenter itself (pyvmomi). A vGPU
whose consumer is ``{platform: vmware, host: <vCenter name>, id: <VM moref or instance uuid>}``
reaches its VM in one of two ways:

* **local** -- every slice sits on a card of the ESXi host the VM is registered on: the pool adds
  one ``VirtualPCIPassthrough`` per slice, a vGPU (``VmiopBackingInfo``) of the smallest host
  profile covering the slice, or for a whole card DirectPath I/O (dynamic on vSphere >= 7, the
  static PCI address before that), and locks the VM's memory reservation to its size as vSphere
  requires for both. vSphere adds such devices to powered-off VMs only: a powered-on VM gets
  :class:`~pooling_drivers.platforms.base.ConsumerStateError` and the pool retries later;
* **remote** -- the slices are elsewhere: no device is added; the lease goes to the guest as
  ``guestinfo.pooling.vgpu.<uuid>`` (JSON) and ``guestinfo.pooling.vgpus`` (the list), where
  ``pooling run`` in the guest reads it (``vmware-rpctool``) and the remote data plane serves it.

The pool decides which: before a vGPU for a VM is claimed it asks :meth:`VmwarePlatform.locate`
for the VM's ESXi host and places the vGPU on that host's cards when one fits, else (remote
allowed) on a card of an agent's host with a remoting backend; never on another ESXi host's
card, which nothing could serve to the VM. :meth:`~VmwarePlatform.attach` still refuses that
case, which only a VM moved after its claim can meet (the location is not followed).

What was changed is recorded in the VM (see :mod:`.vm`), so release removes exactly that and the
reconciler finds VMs whose devices drifted. :meth:`VmwarePlatform.discover` reads every ESXi
host's NVIDIA cards with their vGPU profiles, for the pool to enter as hosts of a pool.

Options (plain values; the service builds them from its config):
``vcenters`` ``{name: {url, user, password, ca_file, insecure, timeout}}``, ``vgpu_class``
(profile class letter picked when a vGPU names no profile, default ``c``), ``profile_map``
(``{pool profile name: vGPU profile name}``).
"""

from __future__ import annotations

from collections.abc import Sequence
import logging
import threading
from typing import Any
import uuid as uuid_mod

from pooling_drivers.accelerators.types import DeviceInfo
from pooling_drivers.accelerators.types import PartitionProfile
from pooling_drivers.platforms import base
from pooling_drivers.platforms.vmware import profiles as profiles_mod
from pooling_drivers.platforms.vmware import session as session_mod
from pooling_drivers.platforms.vmware import vm as vm_mod

LOG = logging.getLogger(__name__)

#: Namespace of the pool's uuids for ESXi cards: uuid5(ns, "<host system uuid>/<PCI id>").
CARD_NAMESPACE = uuid_mod.UUID('6f1d4f0e-5a8e-4d57-9c52-1b0d3b0a7e11')
NVIDIA = 0x10de


def card_uuid(host, pci_id: str) -> str:
    """The pool's stable uuid for the card at ``pci_id`` of an ESXi host."""
    return str(uuid_mod.uuid5(CARD_NAMESPACE, f'{host.hardware.systemInfo.uuid}/{pci_id}'))


class _Card:
    """One NVIDIA card of an ESXi host as the driver needs it."""

    def __init__(self, host, info, pci) -> None:
        self.host, self.pci_id = host, info.pciId
        self.uuid = card_uuid(host, info.pciId)
        self.model = info.deviceName.removeprefix('NVIDIA ').strip() or 'unknown'
        self.memory_mb = int(info.memorySizeInKB // 1024)
        self.graphics_type = info.graphicsType or ''
        self.vendor_id = pci.vendorId if pci is not None else NVIDIA
        self.device_id = pci.deviceId if pci is not None else 0
        passthru = {p.id: p for p in (host.config.pciPassthruInfo or ())}.get(info.pciId)
        self.passthrough = bool(passthru and passthru.passthruEnabled)


def _cards(host) -> list[_Card]:
    pci = {d.id: d for d in (host.hardware.pciDevice or ()) if d.vendorId == NVIDIA}
    return [_Card(host, g, pci.get(g.pciId)) for g in (host.config.graphicsInfo or ())
            if g.pciId in pci or 'nvidia' in (g.vendorName or '').lower()]


def _capacity(host) -> dict[str, int]:
    """The ESXi host's logical CPUs x 1000 and RAM in MiB, from its hardware summary.

    One small read per host and discovery; empty (0: not tracked) where vCenter does not say,
    e.g. for a disconnected host.
    """
    try:
        hw = host.summary.hardware
        return {'cpu_milli': int(hw.numCpuThreads or hw.numCpuCores or 0) * 1000,
                'ram_mb': int(hw.memorySize or 0) // (1024 * 1024)}
    except Exception as exc:  # a vmodl fault or a missing summary: the cards matter more
        LOG.debug('No hardware summary for ESXi host %s: %s', getattr(host, 'name', '?'), exc)
        return {}


def _brief(described: dict[str, Any]) -> str:
    return ' '.join(str(described.get(k)) for k in ('kind', 'profile', 'pci', 'label')
                    if described.get(k))


class VmwarePlatform(base.PlatformDriver):
    """vGPUs on vSphere VMs through the configured vCenters."""

    name = 'vmware'
    platforms = ('vmware',)

    def __init__(self, options=None) -> None:
        super().__init__(options)
        self.vcenters = {name: session_mod.VCenter(
            session_mod.VCenterConfig.from_options(name, data or {}))
            for name, data in sorted((self.options.get('vcenters') or {}).items())}
        self.vgpu_class = str(self.options.get('vgpu_class', 'c'))
        self.profile_map = dict(self.options.get('profile_map') or {})
        # NOTE: attach and detach read-modify-write a VM's extraConfig; one VM at a time.
        self._lock = threading.Lock()

    # The contract ----------------------------------------------------------
    def validate(self, request: base.PlatformRequest) -> None:
        self._vcenter(request.consumer)
        if not request.slices:
            raise base.InvalidRequestError(f'vGPU {request.vgpu_uuid} has no slices')

    def attach(self, request: base.PlatformRequest) -> base.PlatformAttachment:
        self.validate(request)
        vc = self._vcenter(request.consumer)
        with self._lock:
            vm = vc.find_vm(request.consumer.id)
            record = vm_mod.markers(vm).get(request.vgpu_uuid)
            if record and record.get('phase') == 'done':
                if record.get('mode') == 'remote':
                    self._refresh_lease(vc, vm, request)
                return self._attachment(request, record)
            if record:
                # A previous attach stopped between its two steps: finish from the VM.
                return self._finish(vc, vm, request, record)
            esx = vm.runtime.host
            if esx is None:
                raise base.ConsumerStateError(
                    f'VM {request.consumer.id} is on no ESXi host now (orphaned or '
                    'unregistered); the pool retries')
            local = {s.host for s in request.slices} == {esx.name}
            if local:
                return self._attach_local(vc, vm, esx, request)
            where = ', '.join(sorted({s.host for s in request.slices}))
            if {s.host for s in request.slices} & {h.name for h in vc.hosts()}:
                # NOTE: an ESXi host runs no remoting server: its cards serve its own VMs.
                raise base.ConsumerStateError(
                    f'vGPU {request.vgpu_uuid} is on a card of ESXi host {where} but VM '
                    f'{request.consumer.id} runs on {esx.name}: migrate the VM there (powered '
                    'off) and the pool attaches it')
            if request.remote is None:
                raise base.InvalidRequestError(
                    f'vGPU {request.vgpu_uuid} is on {where} but VM {request.consumer.id} '
                    f'runs on {esx.name}, and the vGPU has no remote lease (locality local?)')
            return self._attach_remote(vc, vm, request)

    def detach(self, request: base.PlatformRequest,
               attachment: base.PlatformAttachment | None = None) -> None:
        vc = self._vcenter(request.consumer)
        with self._lock:
            try:
                vm = vc.find_vm(request.consumer.id)
            except base.ConsumerNotFoundError:
                LOG.info('vGPU %s: VM %s is gone; nothing to detach', request.vgpu_uuid,
                         request.consumer.id)
                return
            record = vm_mod.markers(vm).get(request.vgpu_uuid)
            if record is None and attachment is not None:
                record = dict(attachment.details)
            if not record:
                return
            self._remove(vc, vm, request.vgpu_uuid, record)

    def reconcile(self, active: Sequence[base.PlatformRequest]) -> list[base.Drift]:
        """Compare every VM's pool markers and devices with the ACTIVE vGPUs.

        A marker no ACTIVE vGPU accounts for is removed with what it recorded; a recorded
        device that is gone or changed (removed or edited by hand) is reported, or re-attached
        when the VM is powered off; a vGPU device on a VM that no marker records (added outside
        the pool, using card capacity the pool does not know of) is reported; an ACTIVE vGPU
        with no marker is attached.
        """
        wanted = {r.vgpu_uuid: r for r in active if self.handles(r)}
        drifts: list[base.Drift] = []
        seen: set[str] = set()
        for name, vc in self.vcenters.items():
            try:
                vms = vc.vms()
            except base.PlatformUnavailableError as exc:
                LOG.warning('reconcile: %s', exc)
                seen.update(u for u, r in wanted.items() if r.consumer.host == name)
                continue
            for vm in vms:
                drifts += self._reconcile_vm(vc, vm, wanted, seen)
        for uuid, request in wanted.items():
            if uuid in seen:
                continue
            try:
                self.attach(request)
                drifts.append(base.Drift(uuid, 'ACTIVE but not attached', 'repaired'))
            except base.PlatformError as exc:
                drifts.append(base.Drift(uuid, f'ACTIVE but not attached: {exc}'))
        return drifts

    def locate(self, consumer: base.Consumer) -> str:
        """The ESXi host the VM is registered on now (``vm.runtime.host``).

        The pool places a vSphere vGPU against it: a card of that host is attached locally,
        anything else must be served remotely (an ESXi host runs no remoting server, so the
        card of another ESXi host is no use to the VM).

        :raises ConsumerNotFoundError: the vCenter has no such VM.
        :raises ConsumerStateError: the VM is on no host (orphaned or unregistered).
        """
        vc = self._vcenter(consumer)
        vm = vc.find_vm(consumer.id)
        esx = vc.call(f'reading the ESXi host of VM {consumer.id}', lambda: vm.runtime.host)
        if esx is None:
            raise base.ConsumerStateError(
                f'VM {consumer.id} is on no ESXi host now (orphaned or unregistered)')
        return vc.call(f'reading the ESXi host of VM {consumer.id}', lambda: esx.name)

    def discover(self) -> list[base.DiscoveredHost]:
        """Every ESXi host of every vCenter with its NVIDIA cards and their vGPU profiles.

        The profiles are the shapes the scheduler may snap a slice on the card to: a card
        enabled for DirectPath offers itself whole, a vGPU card its ``vgpu_class`` profiles. A
        host that is not connected, or in maintenance mode, reports its cards unhealthy.
        """
        found = []
        for _name, vc in self.vcenters.items():
            for host in vc.hosts():
                devices, offered = [], {}
                runtime = host.runtime
                healthy = runtime.connectionState == 'connected' and not runtime.inMaintenanceMode
                reason = '' if healthy else (
                    f'ESXi host {runtime.connectionState}'
                    + (', in maintenance mode' if runtime.inMaintenanceMode else ''))
                for index, card in enumerate(_cards(host)):
                    devices.append(DeviceInfo(
                        uuid=card.uuid, vendor='nvidia', model=card.model,
                        pci_address=card.pci_id, memory_mb=card.memory_mb, compute_units=0,
                        numa_node=None, driver_version='', healthy=healthy,
                        health_reason=reason, isolation=('hard',), index=index))
                    offered[card.uuid] = self._shapes(host, card)
                found.append(base.DiscoveredHost(name=host.name, devices=tuple(devices),
                                                 profiles=offered, **_capacity(host)))
        return found

    def close(self) -> None:
        for vc in self.vcenters.values():
            vc.close()

    # Attach ----------------------------------------------------------------
    def _shapes(self, host, card: _Card) -> tuple[PartitionProfile, ...]:
        if card.passthrough:
            return (PartitionProfile(name='directpath', profile_id=0, memory_mb=card.memory_mb,
                                     compute_units=0, compute_milli=1000, max_instances=1),)
        return profiles_mod.partition_profiles(host.config.sharedPassthruGpuTypes,
                                               card.memory_mb, vgpu_class=self.vgpu_class)

    def _attach_local(self, vc, vm, esx, request) -> base.PlatformAttachment:
        from pyVmomi import vim
        state = vm.runtime.powerState
        if state != 'poweredOff':
            raise base.ConsumerStateError(
                f'VM {request.consumer.id} ({vm.name}) is {state}: vSphere adds vGPU and '
                'DirectPath devices to powered-off VMs only; power it off and the pool attaches '
                'the vGPU on its next pass')
        cards = {c.uuid: c for c in _cards(esx)}
        changes, devices = [], []
        for i, slice_ in enumerate(request.slices):
            card = cards.get(slice_.device_uuid)
            if card is None:
                raise base.InvalidRequestError(
                    f'ESXi host {esx.name} has no card {slice_.device_uuid} (slice '
                    f'{slice_.index} of vGPU {request.vgpu_uuid}); rediscover the host')
            backing, what = self._backing(vc, vm, esx, card, slice_, request)
            device = vim.vm.device.VirtualPCIPassthrough(key=-100 - i, backing=backing)
            changes.append(vim.vm.device.VirtualDeviceSpec(operation='add', device=device))
            devices.append(what)
        before = sorted(vm_mod.passthrough_devices(vm))
        record = {'mode': 'local', 'phase': 'adding', 'before': before, 'devices': devices,
                  'reservation_was': bool(vm.config.memoryReservationLockedToMax)}
        spec = vim.vm.ConfigSpec(deviceChange=changes, memoryReservationLockedToMax=True,
                                 extraConfig=[vm_mod.option(vm_mod.MARKER + request.vgpu_uuid,
                                                            vm_mod.dumps(record))])
        vc.reconfigure(vm, spec, f'adding vGPU {request.vgpu_uuid} to VM {request.consumer.id}')
        LOG.info('vGPU %s attached to VM %s: %s', request.vgpu_uuid, request.consumer.id,
                 devices)
        return self._finish(vc, vm, request, record)

    def _backing(self, vc, vm, esx, card: _Card, slice_, request):
        """The device backing for one slice, and its description for the record."""
        from pyVmomi import vim
        P = vim.vm.device.VirtualPCIPassthrough
        if slice_.compute_milli >= 1000 and card.passthrough:
            if vc.api_version() >= (7,):
                allowed = P.AllowedDevice(vendorId=card.vendor_id, deviceId=card.device_id)
                label = f'pooling-{request.vgpu_uuid[:8]}-{slice_.index}'
                return (P.DynamicBackingInfo(allowedDevice=[allowed], customLabel=label),
                        {'kind': 'dynamic', 'label': label, 'card': card.uuid})
            system_id = self._system_id(vc, vm, esx, card)
            backing = P.DeviceBackingInfo(
                id=card.pci_id, deviceId=format(card.device_id & 0xffff, 'x'),
                systemId=system_id, vendorId=card.vendor_id, deviceName=card.model)
            return backing, {'kind': 'directpath', 'pci': card.pci_id, 'card': card.uuid}
        if card.passthrough:
            raise base.InvalidRequestError(
                f'card {card.pci_id} of ESXi host {esx.name} is set for DirectPath and serves '
                f'whole-card vGPUs only; slice {slice_.index} of vGPU {request.vgpu_uuid} asks '
                f'{slice_.compute_milli / 10:g}%')
        wanted = self.profile_map.get(request.profile or '') or (
            request.profile if (request.profile or '').startswith('grid_') else None)
        choice = profiles_mod.choose(
            slice_.compute_milli, slice_.memory_mb, esx.config.sharedPassthruGpuTypes,
            card.memory_mb, vgpu_class=self.vgpu_class, wanted=wanted, where=esx.name)
        if len(choice.candidates) > 1:
            LOG.info('vGPU %s slice %d: %s chosen, the smallest of %s', request.vgpu_uuid,
                     slice_.index, choice.profile.name, ', '.join(choice.candidates))
        return (P.VmiopBackingInfo(vgpu=choice.profile.name),
                {'kind': 'vgpu', 'profile': choice.profile.name, 'card': card.uuid,
                 'candidates': list(choice.candidates)})

    @staticmethod
    def _system_id(vc, vm, esx, card) -> str:
        """DirectPath's ``systemId``: what the VM's environment browser reports for the card.

        NOTE: the govmomi simulator reports no PCI passthrough targets; then the host's system
        uuid stands in (what ESXi reports there for most hosts).
        """
        target = vc.call('reading the config target', vm.environmentBrowser.QueryConfigTarget,
                         esx)
        for entry in getattr(target, 'pciPassthrough', None) or ():
            if getattr(entry.pciDevice, 'id', None) == card.pci_id and entry.systemId:
                return entry.systemId
        return esx.hardware.systemInfo.uuid

    def _attach_remote(self, vc, vm, request) -> base.PlatformAttachment:
        import json
        key = vm_mod.GUESTINFO + 'vgpu.' + request.vgpu_uuid
        listed = [u for u in vm_mod.extra_config(vm).get(vm_mod.GUESTINFO_INDEX, '').split(',')
                  if u]
        record = {'mode': 'remote', 'phase': 'done', 'guestinfo': [key], 'devices': []}
        options = [vm_mod.option(key, json.dumps(dict(request.remote.document), sort_keys=True)),
                   vm_mod.option(vm_mod.GUESTINFO_INDEX,
                                 ','.join(sorted({*listed, request.vgpu_uuid}))),
                   vm_mod.option(vm_mod.MARKER + request.vgpu_uuid, vm_mod.dumps(record))]
        from pyVmomi import vim
        vc.reconfigure(vm, vim.vm.ConfigSpec(extraConfig=options),
                       f'writing the lease of vGPU {request.vgpu_uuid} to VM '
                       f'{request.consumer.id}')
        LOG.info('vGPU %s: lease written to VM %s guestinfo', request.vgpu_uuid,
                 request.consumer.id)
        return self._attachment(request, record)

    def _refresh_lease(self, vc, vm, request) -> None:
        """Write the request's lease over the VM's when it carries a credential and differs.

        The periodic sync hands over vGPUs without their credential (the pool keeps only its
        hash): when its repair ran before the conductor's attach, the VM holds a lease without
        one, and the attach that brings it must not stop at "already attached". A lease without
        a credential never replaces one.
        """
        import json
        if request.remote is None or not request.remote.token:
            return
        key = vm_mod.GUESTINFO + 'vgpu.' + request.vgpu_uuid
        value = json.dumps(dict(request.remote.document), sort_keys=True)
        if vm_mod.extra_config(vm).get(key) == value:
            return
        from pyVmomi import vim
        vc.reconfigure(vm, vim.vm.ConfigSpec(extraConfig=[vm_mod.option(key, value)]),
                       f'writing the lease of vGPU {request.vgpu_uuid} to VM '
                       f'{request.consumer.id}')
        LOG.info('vGPU %s: lease with its credential written to VM %s guestinfo',
                 request.vgpu_uuid, request.consumer.id)

    def _finish(self, vc, vm, request, record) -> base.PlatformAttachment:
        """Second step of a local attach: record the keys vSphere gave the new devices."""
        from pyVmomi import vim
        if record.get('mode') != 'local':
            return self._attachment(request, record)
        vm = vc.find_vm(request.consumer.id)
        before = set(record.get('before') or ())
        new = sorted(k for k in vm_mod.passthrough_devices(vm) if k not in before)
        wanted = record.get('devices') or []
        if len(new) < len(wanted):
            raise base.PlatformError(
                f'VM {request.consumer.id}: vSphere shows {len(new)} new PCI device(s) for '
                f'vGPU {request.vgpu_uuid}, {len(wanted)} were added')
        done = {**record, 'phase': 'done', 'keys': new[:len(wanted)]}
        spec = vim.vm.ConfigSpec(extraConfig=[
            vm_mod.option(vm_mod.MARKER + request.vgpu_uuid, vm_mod.dumps(done))])
        vc.reconfigure(vm, spec, f'recording vGPU {request.vgpu_uuid} on VM '
                                 f'{request.consumer.id}')
        return self._attachment(request, done)

    def _attachment(self, request, record) -> base.PlatformAttachment:
        keys = record.get('keys') or []
        handle = (f'{request.consumer.host}/{request.consumer.id}/'
                  + (','.join(str(k) for k in keys) if keys else 'guestinfo'))
        return base.PlatformAttachment(self.name, request.vgpu_uuid, handle,
                                       {**record, 'vcenter': request.consumer.host,
                                        'vm': request.consumer.id})

    # Release and drift -------------------------------------------------------
    def _remove(self, vc, vm, vgpu_uuid: str, record: dict[str, Any]) -> None:
        from pyVmomi import vim
        present = vm_mod.passthrough_devices(vm)
        keys = [k for k in record.get('keys') or () if k in present]
        if record.get('mode') == 'local' and not record.get('keys'):
            # Stopped after the add, before the keys were recorded.
            before = set(record.get('before') or ())
            keys = sorted(k for k in present if k not in before)[:len(record.get('devices', []))]
        changes = [vim.vm.device.VirtualDeviceSpec(operation='remove', device=present[k])
                   for k in keys]
        if changes and vm.runtime.powerState != 'poweredOff':
            raise base.ConsumerStateError(
                f'VM {vm._moId} ({vm.name}) is {vm.runtime.powerState}: its vGPU device(s) '
                f'{keys} of vGPU {vgpu_uuid} can only be removed when it is powered off')
        options = [vm_mod.option(vm_mod.MARKER + vgpu_uuid, '')]
        options += [vm_mod.option(k, '') for k in record.get('guestinfo') or ()]
        if record.get('guestinfo'):
            listed = [u for u in vm_mod.extra_config(vm).get(vm_mod.GUESTINFO_INDEX, '')
                      .split(',') if u and u != vgpu_uuid]
            options.append(vm_mod.option(vm_mod.GUESTINFO_INDEX, ','.join(listed)))
        spec = vim.vm.ConfigSpec(deviceChange=changes, extraConfig=options)
        others = [r for u, r in vm_mod.markers(vm).items()
                  if u != vgpu_uuid and r.get('mode') == 'local']
        if record.get('mode') == 'local' and not record.get('reservation_was') and not others:
            spec.memoryReservationLockedToMax = False
        vc.reconfigure(vm, spec, f'removing vGPU {vgpu_uuid} from VM {vm._moId}')
        LOG.info('vGPU %s detached from VM %s (devices %s)', vgpu_uuid, vm._moId, keys)

    def _reconcile_vm(self, vc, vm, wanted, seen) -> list[base.Drift]:
        drifts = []
        records = vm_mod.markers(vm)
        present = vm_mod.passthrough_devices(vm)
        for uuid, record in records.items():
            seen.add(uuid)
            request = wanted.get(uuid)
            if request is None or request.consumer.id not in (vm._moId, vm.config.instanceUuid):
                try:
                    self._remove(vc, vm, uuid, record)
                    drifts.append(base.Drift(uuid, f'VM {vm._moId} holds a vGPU the pool no '
                                                   'longer has ACTIVE there', 'repaired'))
                except base.PlatformError as exc:
                    drifts.append(base.Drift(uuid, f'VM {vm._moId} holds a released vGPU: {exc}'))
                continue
            for key, want in zip(record.get('keys') or (), record.get('devices') or ()):
                have = vm_mod.describe(present[key]) if key in present else None
                if have is None or have['kind'] != want['kind'] or (
                        want['kind'] == 'vgpu' and have.get('profile') != want.get('profile')):
                    drifts.append(base.Drift(
                        uuid, f'VM {vm._moId} device {key} was {_brief(want)} and is now '
                              f'{_brief(have) if have else "gone"}', 'reported', str(key)))
        recorded = {k for r in records.values() for k in r.get('keys') or ()}
        for key, device in present.items():
            described = vm_mod.describe(device)
            if key not in recorded and described['kind'] == 'vgpu':
                drifts.append(base.Drift('', f'VM {vm._moId} has vGPU device {key} '
                                             f'({described["profile"]}) the pool did not add',
                                         'reported', str(key)))
        return drifts

    def _vcenter(self, consumer: base.Consumer) -> session_mod.VCenter:
        if consumer.platform not in self.platforms:
            raise base.InvalidRequestError(
                f'the vmware platform does not serve {consumer.platform!r} consumers')
        if consumer.host not in self.vcenters:
            raise base.InvalidRequestError(
                f'vmware consumer host {consumer.host!r} is not a configured vCenter; '
                f'configured: {", ".join(self.vcenters) or "none"}')
        if not consumer.id:
            raise base.InvalidRequestError('a vmware consumer needs the VM moref or uuid as id')
        return self.vcenters[consumer.host]
