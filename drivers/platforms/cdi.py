"""``cdi``: hand a vGPU to OCI runtimes (Docker, Podman, containerd, CRI-O) as a CDI device.

One Container Device Interface spec per ACTIVE vGPU is written into the dynamic spec directory
(``/var/run/cdi`` by default) of the consumer's host; a container asks for it with
``--device pooling.openstack.org/vgpu=<vgpu uuid>``, and the runtime applies its edits:

* a local vGPU: the device nodes of its card or partition (``hostPath`` under ``dev_root`` so
  that a containerised agent can see the host's ``/dev``), the isolation environment the slices'
  plugins produced (visible devices, MPS or HAMi-core limits) and their mounts (MPS pipe folder,
  preload library);
* a remote vGPU: no device node; the lease document is written beside the spec (``lease_dir``)
  and mounted read-only at ``lease_path`` in the container, with ``POOLING_LEASE_FILE`` naming
  it, so that ``pooling run`` inside the container finds its endpoints and credential;
* both: ``POOLING_VGPU_UUID`` and the library mounts the operator lists (``mounts``).

The spec carries the lowest ``cdiVersion`` that covers the fields it uses, because loaders skip
a spec whose version they do not know (Podman 4.3 skips anything from 0.6.0 on) and reject one
whose version is lower than its fields need.  Why a file per vGPU rather than one per kind:
writing and removing a file is atomic, so a runtime reading the directory never sees half a
spec, and release removes exactly one vGPU.

Kubernetes reuses this driver: the DRA kubelet plugin and the device-plugin fallback answer with
the same CDI device names (``cdi_device_ids`` / ``cdi_devices``) after writing the same spec.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
import json
import logging
import os
import re
import tempfile
from typing import Any

from pooling_drivers.platforms import base

LOG = logging.getLogger(__name__)

#: The CDI vendor (a DNS name) and class of every pooled vGPU.  The vendor is a subdomain of
#: the OpenStack project's own domain; the docs tell users to ask for ``KIND=<vgpu uuid>``.
VENDOR = 'pooling.openstack.org'
CLASS = 'vgpu'
KIND = f'{VENDOR}/{CLASS}'

#: Every consumer ``platform`` value whose runtime reads CDI specs.
CDI_PLATFORMS = ('container', 'cdi', 'docker', 'podman', 'containerd', 'cri-o',
                 'kubernetes')

#: Versions a loader knows, oldest first (the spec's ``version.go`` history).
VERSIONS = ('0.3.0', '0.4.0', '0.5.0', '0.6.0', '0.7.0', '0.8.0', '1.0.0', '1.1.0')

_VENDOR_RE = re.compile(r'^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$')
_CLASS_RE = re.compile(r'^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$')
_NAME_RE = re.compile(r'^[A-Za-z0-9]([A-Za-z0-9_.:-]*[A-Za-z0-9])?$')
_ENV_RE = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*=')
_HOOK_NAMES = ('prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart',
               'poststop')
#: Variables whose per-slice values a multi-card vGPU joins with commas, in slice order.
_LIST_VARS = ('CUDA_VISIBLE_DEVICES', 'NVIDIA_VISIBLE_DEVICES', 'ASCEND_VISIBLE_DEVICES',
              'ASCEND_RT_VISIBLE_DEVICES', 'HIP_VISIBLE_DEVICES', 'MLU_VISIBLE_DEVICES',
              'CUDA_MPS_PINNED_DEVICE_MEM_LIMIT', 'MUSA_VISIBLE_DEVICES',
              'XPU_VISIBLE_DEVICES', 'TOPS_VISIBLE_DEVICES', 'METAX_VISIBLE_DEVICES')
_ORDINAL_RE = re.compile(r'^(.*_)0$')
_MOUNT_OPTIONS = ('nosuid', 'nodev', 'bind')


class CdiSpecError(base.InvalidRequestError):
    """A spec breaks the CDI rules (kind, names, version, paths)."""


def spec_file_name(vgpu_uuid: str, tag: str = '') -> str:
    """The file one vGPU's spec lives in: ``<vendor>-<class>[-<tag>]_<uuid>.json``.

    The tag keeps apart the files of drivers sharing a directory (the agent's ``cdi`` and the
    kubelet plugin's ``kubernetes``), so that one's reconcile never deletes the other's specs.
    """
    return f'{_stem(tag)}{vgpu_uuid}.json'


def _stem(tag: str) -> str:
    return f'{VENDOR}-{CLASS}-{tag}_' if tag else f'{VENDOR}-{CLASS}_'


def device_name(vgpu_uuid: str) -> str:
    """The fully qualified CDI device a container asks for."""
    return f'{KIND}={vgpu_uuid}'


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split('.'))


def required_version(spec: Mapping[str, Any]) -> str:
    """Return the lowest ``cdiVersion`` that covers every field the spec uses.

    The rules follow the CDI specification's version history: mount ``type`` from 0.4.0;
    device-node ``hostPath`` and device names starting with a digit from 0.5.0; annotations and
    dots in the kind's class from 0.6.0; ``additionalGids`` and ``intelRdt`` from 0.7.0;
    ``netDevices`` from 1.1.0.
    """
    need = '0.3.0'

    def at_least(version: str) -> None:
        nonlocal need
        if _version_key(version) > _version_key(need):
            need = version

    def edits(e: Mapping[str, Any] | None) -> None:
        e = e or {}
        if any('type' in m for m in e.get('mounts') or ()):
            at_least('0.4.0')
        if any('hostPath' in d for d in e.get('deviceNodes') or ()):
            at_least('0.5.0')
        if e.get('additionalGids') or e.get('intelRdt'):
            at_least('0.7.0')
        if e.get('netDevices'):
            at_least('1.1.0')

    kind_class = str(spec.get('kind', '')).partition('/')[2]
    if '.' in kind_class:
        at_least('0.6.0')
    if spec.get('annotations'):
        at_least('0.6.0')
    edits(spec.get('containerEdits'))
    for dev in spec.get('devices') or ():
        if dev.get('annotations'):
            at_least('0.6.0')
        if str(dev.get('name', ''))[:1].isdigit():
            at_least('0.5.0')
        edits(dev.get('containerEdits'))
    return need


def check_spec(spec: Mapping[str, Any]) -> None:
    """Apply the CDI rules the JSON schema does not check.

    The published schema is lax (no name syntax, no version rule, unknown fields allowed), and
    a runtime skips a spec that breaks these rules without saying so to the user: so we refuse
    to write one.

    :raises CdiSpecError: with what is wrong.
    """
    version = str(spec.get('cdiVersion', ''))
    if version not in VERSIONS:
        raise CdiSpecError(f'unknown cdiVersion {version!r}; known: {", ".join(VERSIONS)}')
    need = required_version(spec)
    if _version_key(version) < _version_key(need):
        raise CdiSpecError(f'cdiVersion {version} is lower than {need}, which its fields need')
    vendor, _, klass = str(spec.get('kind', '')).partition('/')
    if not (vendor and klass and _VENDOR_RE.match(vendor) and _CLASS_RE.match(klass)
            and len(klass) <= 63):
        raise CdiSpecError(f'bad kind {spec.get("kind")!r}: want <vendor domain>/<class>')
    devices = spec.get('devices') or ()
    if not devices:
        raise CdiSpecError('a spec needs at least one device')
    names = set()
    for dev in devices:
        name = str(dev.get('name', ''))
        if not _NAME_RE.match(name) or len(name) > 63:
            raise CdiSpecError(f'bad device name {name!r}')
        if name in names:
            raise CdiSpecError(f'device {name!r} appears twice')
        names.add(name)
        if not dev.get('containerEdits'):
            raise CdiSpecError(f'device {name!r} has no containerEdits')
        _check_edits(dev['containerEdits'], f'device {name!r}')
    _check_edits(spec.get('containerEdits') or {}, 'spec')


def _check_edits(edits: Mapping[str, Any], where: str) -> None:
    for item in edits.get('env') or ():
        if not _ENV_RE.match(str(item)):
            raise CdiSpecError(f'{where}: env entry {item!r} is not NAME=value')
    for node in edits.get('deviceNodes') or ():
        for key in ('path', 'hostPath'):
            if key in node and not str(node[key]).startswith('/'):
                raise CdiSpecError(f'{where}: device node {key} {node[key]!r} is not absolute')
        if 'path' not in node:
            raise CdiSpecError(f'{where}: device node without a path')
    for mount in edits.get('mounts') or ():
        if not str(mount.get('hostPath', '')).startswith('/') or not str(
                mount.get('containerPath', '')).startswith('/'):
            raise CdiSpecError(f'{where}: mount {mount!r} needs absolute paths')
    for hook in edits.get('hooks') or ():
        if hook.get('hookName') not in _HOOK_NAMES:
            raise CdiSpecError(f'{where}: unknown hook {hook.get("hookName")!r}')
        if not str(hook.get('path', '')).startswith('/'):
            raise CdiSpecError(f'{where}: hook path {hook.get("path")!r} is not absolute')


def merge_env(slices: Sequence[base.SliceHandle]) -> dict[str, str]:
    """Join the slices' environments into one for a consumer that sees every card.

    Visible-device lists join with commas in slice order; per-ordinal variables ending in
    ``_0`` (the isolation plugins speak for a consumer seeing one card) are renumbered to the
    slice's ordinal; any other variable must agree across slices.

    :raises base.InvalidRequestError: two slices need different values of the same variable.
    """
    env: dict[str, str] = {}
    lists: dict[str, list[str]] = {}
    for ordinal, slice_ in enumerate(slices):
        for key, value in slice_.env.items():
            if key in _LIST_VARS:
                if key == 'CUDA_MPS_PINNED_DEVICE_MEM_LIMIT' and value.startswith('0='):
                    value = f'{ordinal}={value[2:]}'
                lists.setdefault(key, []).append(value)
                continue
            match = _ORDINAL_RE.match(key)
            if match and ordinal:
                key = f'{match.group(1)}{ordinal}'
            if key in env and env[key] != value:
                raise base.InvalidRequestError(
                    f'slices of one vGPU need different {key}: {env[key]!r} and {value!r}')
            env[key] = value
    env.update({key: ','.join(values) for key, values in lists.items()})
    return env


def _mount(host: str, container: str, readonly: bool) -> dict[str, Any]:
    return {'hostPath': host, 'containerPath': container,
            'options': (['ro'] if readonly else ['rw']) + list(_MOUNT_OPTIONS)}


def parse_mounts(value: Any) -> tuple[base.Mount, ...]:
    """Read the ``mounts`` option: a list (or comma-separated string) of ``host[:container[:rw]]``.

    :raises base.InvalidRequestError: an entry is not absolute.
    """
    items = value.split(',') if isinstance(value, str) else list(value or ())
    mounts = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        parts = item.split(':')
        host = parts[0]
        container = parts[1] if len(parts) > 1 and parts[1] else host
        readonly = not (len(parts) > 2 and parts[2] == 'rw')
        if not (host.startswith('/') and container.startswith('/')):
            raise base.InvalidRequestError(f'mount {item!r}: paths must be absolute')
        mounts.append(base.Mount(host, container, readonly))
    return tuple(mounts)


class CdiPlatform(base.PlatformDriver):
    """Writes and removes one CDI spec per vGPU.

    Options (strings or plain values): ``spec_dir`` (``/var/run/cdi``), ``lease_dir``
    (``/var/lib/pooling/leases``: where remote leases are written, mode 0600), ``lease_path``
    (``/etc/pooling/lease.json``: where the container sees its lease), ``dev_root`` (``/``: the
    host's root as this process sees it, prefixed to device nodes' ``hostPath``), ``mounts``
    (library mounts for every vGPU, ``host[:container[:rw]]``), ``env`` (extra ``NAME=value``
    for every vGPU), ``platforms`` (the consumer platforms served; default every CDI one).
    """

    name = 'cdi'
    platforms = CDI_PLATFORMS
    #: Marks this driver's spec files (see :func:`spec_file_name`).
    file_tag = ''

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        if self.options.get('platforms'):
            self.platforms = tuple(self.options['platforms'])
        self.spec_dir = str(self.options.get('spec_dir') or '/var/run/cdi')
        self.lease_dir = str(self.options.get('lease_dir') or '/var/lib/pooling/leases')
        self.lease_path = str(self.options.get('lease_path') or '/etc/pooling/lease.json')
        self.dev_root = str(self.options.get('dev_root') or '/')
        self.mounts = parse_mounts(self.options.get('mounts'))
        extra = self.options.get('env') or ()
        self.extra_env = [e.strip() for e in (extra.split(',') if isinstance(extra, str)
                                              else extra) if e.strip()]

    # What a vGPU becomes ---------------------------------------------------
    def spec_path(self, vgpu_uuid: str) -> str:
        return os.path.join(self.spec_dir, spec_file_name(vgpu_uuid, self.file_tag))

    def lease_file(self, vgpu_uuid: str) -> str:
        return os.path.join(self.lease_dir, f'{vgpu_uuid}.json')

    def build_spec(self, request: base.PlatformRequest) -> dict[str, Any]:
        """Return the CDI spec (a dict) for one vGPU; pure, writes nothing.

        :raises base.InvalidRequestError: the vGPU has no slices or its slices disagree.
        :raises CdiSpecError: the result would break a CDI rule.
        """
        if not request.slices:
            raise base.InvalidRequestError(f'vGPU {request.vgpu_uuid} has no slices')
        env = [f'POOLING_VGPU_UUID={request.vgpu_uuid}']
        nodes: list[dict[str, Any]] = []
        mounts = [_mount(m.host, m.container, m.readonly) for m in self.mounts]
        if request.is_remote:
            env.append(f'POOLING_LEASE_FILE={self.lease_path}')
            lease_env = request.remote.document.get('env') or {}
            env += [f'{k}={v}' for k, v in sorted(lease_env.items())]
            mounts.append(_mount(self.lease_file(request.vgpu_uuid), self.lease_path, True))
        else:
            env += [f'{k}={v}' for k, v in sorted(merge_env(request.slices).items())]
            seen = set()
            for slice_ in request.slices:
                for node in slice_.device_nodes:
                    if node not in seen:
                        seen.add(node)
                        nodes.append({'path': node, 'hostPath': self._host_node(node)})
                for m in slice_.mounts:
                    mounts.append(_mount(m.host, m.container, m.readonly))
        env += self.extra_env
        edits: dict[str, Any] = {'env': env}
        if nodes:
            edits['deviceNodes'] = nodes
        if mounts:
            edits['mounts'] = _dedupe(mounts)
        spec = {'cdiVersion': '0.3.0', 'kind': KIND,
                'devices': [{'name': request.vgpu_uuid, 'containerEdits': edits}]}
        spec['cdiVersion'] = required_version(spec)
        check_spec(spec)
        return spec

    def _host_node(self, node: str) -> str:
        return os.path.join(self.dev_root, node.lstrip('/'))

    # The contract ------------------------------------------------------------
    def attach(self, request: base.PlatformRequest) -> base.PlatformAttachment:
        spec = self.build_spec(request)
        for mount in spec['devices'][0]['containerEdits'].get('mounts', ()):
            if not request.is_remote or mount['containerPath'] != self.lease_path:
                if not os.path.exists(mount['hostPath']):
                    # NOTE: runc refuses to start a container whose bind source is missing;
                    # say so here, where an operator looks, not only in the user's error.
                    LOG.warning('vGPU %s: CDI mount source %s does not exist on this host',
                                request.vgpu_uuid, mount['hostPath'])
        details: dict[str, Any] = {'spec': self.spec_path(request.vgpu_uuid),
                                   'cdiVersion': spec['cdiVersion']}
        try:
            if request.is_remote:
                # NOTE: the lease first, so the spec never names a file that is not there.
                _write_lease(self.lease_file(request.vgpu_uuid), request.remote)
                details['lease'] = self.lease_file(request.vgpu_uuid)
            _write_atomic(details['spec'], json.dumps(spec, indent=2, sort_keys=True), 0o644)
        except OSError as exc:
            raise base.PlatformUnavailableError(
                f'cannot write the CDI spec of vGPU {request.vgpu_uuid}: {exc}') from exc
        LOG.info('wrote CDI spec %s for vGPU %s', details['spec'], request.vgpu_uuid)
        return base.PlatformAttachment(self.name, request.vgpu_uuid,
                                       device_name(request.vgpu_uuid), details)

    def detach(self, request: base.PlatformRequest,
               attachment: base.PlatformAttachment | None = None) -> None:
        self._remove(request.vgpu_uuid)

    def _remove(self, vgpu_uuid: str) -> None:
        # NOTE: the spec first, so no runtime resolves the device to a lease that is gone.
        for path in (self.spec_path(vgpu_uuid), self.lease_file(vgpu_uuid)):
            try:
                os.unlink(path)
                LOG.info('removed %s of vGPU %s', path, vgpu_uuid)
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise base.PlatformUnavailableError(f'cannot remove {path}: {exc}') from exc

    def attached(self) -> list[str]:
        """The vGPU uuids that have a spec in ``spec_dir`` now."""
        prefix, suffix = _stem(self.file_tag), '.json'
        try:
            names = os.listdir(self.spec_dir)
        except FileNotFoundError:
            return []
        return sorted(n[len(prefix):-len(suffix)] for n in names
                      if n.startswith(prefix) and n.endswith(suffix))

    def reconcile(self, active: Sequence[base.PlatformRequest]) -> list[base.Drift]:
        """Remove specs no ACTIVE vGPU accounts for; write missing or outdated ones."""
        wanted = {r.vgpu_uuid: r for r in active if self.handles(r)}
        drifts = []
        for uuid in self.attached():
            if uuid not in wanted:
                self._remove(uuid)
                drifts.append(base.Drift(uuid, 'CDI spec of a vGPU that is not ACTIVE',
                                         'repaired', device_name(uuid)))
        for uuid, request in sorted(wanted.items()):
            try:
                spec = self.build_spec(request)
                with open(self.spec_path(uuid)) as f:
                    if json.load(f) == spec:
                        continue
                problem = 'CDI spec differs from the vGPU'
            except FileNotFoundError:
                problem = 'no CDI spec for an ACTIVE vGPU'
            except (ValueError, base.PlatformError) as exc:
                problem = f'CDI spec unreadable or unbuildable: {exc}'
            try:
                self.attach(request)
                drifts.append(base.Drift(uuid, problem, 'repaired', device_name(uuid)))
            except base.PlatformError as exc:
                drifts.append(base.Drift(uuid, f'{problem}; rewrite failed: {exc}'))
        return drifts


def _dedupe(mounts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen, out = set(), []
    for m in mounts:
        if m['containerPath'] not in seen:
            seen.add(m['containerPath'])
            out.append(m)
    return out


def _write_lease(path: str, remote) -> None:
    """Write a remote vGPU's lease document for containers to mount.

    A new file is written atomically. An existing one is rewritten in place (a credential
    rotation, a failover's new endpoints): a running container bind-mounted that very inode and
    would never see a renamed-over file; ``pooling run`` reads again a document caught half
    written. A document without a credential (the periodic sync's) never replaces one with.
    """
    text = json.dumps(dict(remote.document), sort_keys=True)
    try:
        with open(path, 'r+') as f:
            held = f.read()
            if held == text:
                return
            if not remote.token and '"token"' in held:
                return
            f.seek(0)
            f.write(text)
            f.truncate()
        return
    except FileNotFoundError:
        pass
    _write_atomic(path, text, 0o600)


def _write_atomic(path: str, text: str, mode: int) -> None:
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix='.pooling-', suffix='.tmp')
    try:
        with os.fdopen(fd, 'w') as f:
            f.write(text)
            f.flush()
            os.fchmod(f.fileno(), mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
