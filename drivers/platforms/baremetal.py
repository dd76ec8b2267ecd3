"""The ``baremetal`` platform: pooled vGPUs for jobs on a host with no hypervisor.

Ironic takes no accelerators, so a bare-metal host is served by the pool directly. This driver
runs in the host's pooling-agent and, for each vGPU whose consumer is ``{platform: baremetal,
host: <this host>, id: <job name>}``, writes two files under ``state_dir`` (mode 0600, the
folder 0700: a remote lease carries a credential):

* ``<id>/<vGPU uuid>.env`` -- ``KEY=VALUE`` lines a job loads with ``set -a; . FILE; set +a``
  (or ``env $(cat FILE) app``): for a local card the isolation plugin's environment
  (``CUDA_VISIBLE_DEVICES`` of the card or MIG instance, HAMi/MPS limits, an LD_PRELOAD ...)
  plus ``POOLING_VGPU``; for a remote vGPU ``POOLING_LEASE_FILE``, which ``pooling run`` reads;
* ``<id>/<vGPU uuid>.json`` -- the whole attachment: for a local card ``{"env", "devices",
  "mounts"}``; for a remote vGPU the lease document itself (``pooling run --lease FILE -- app``).

A host with no agent at all uses remote vGPUs only, with ``pooling run --vgpu ID`` fetching the
lease from the API; no driver is involved there. Release deletes exactly the two files (and the
job's folder once empty); the reconciler rewrites missing files and deletes strays.
Options: ``state_dir`` (default ``/var/lib/pooling/baremetal``).
"""

from __future__ import annotations

from collections.abc import Sequence
import json
import os
import re
import shlex
import tempfile

from pooling_drivers.platforms import base

_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$')


class BaremetalPlatform(base.PlatformDriver):
    """Environment and lease files for bare-metal jobs."""

    name = 'baremetal'
    platforms = ('baremetal',)

    def __init__(self, options=None) -> None:
        super().__init__(options)
        self.state_dir = str(self.options.get('state_dir') or '/var/lib/pooling/baremetal')

    def validate(self, request: base.PlatformRequest) -> None:
        if request.consumer.platform not in self.platforms:
            raise base.InvalidRequestError(
                f'the baremetal platform does not serve {request.consumer.platform!r} consumers')
        if not _NAME.match(request.consumer.id):
            raise base.InvalidRequestError(
                f'a baremetal consumer id names a job: letters, digits and _.@- (at most 128), '
                f'not {request.consumer.id!r}')
        if not _NAME.match(request.vgpu_uuid):
            raise base.InvalidRequestError(f'bad vGPU uuid {request.vgpu_uuid!r}')
        if not request.slices:
            raise base.InvalidRequestError(f'vGPU {request.vgpu_uuid} has no slices')

    def files(self, request: base.PlatformRequest) -> tuple[str, str]:
        """The ``.env`` and ``.json`` paths of a vGPU."""
        folder = os.path.join(self.state_dir, request.consumer.id)
        return (os.path.join(folder, request.vgpu_uuid + '.env'),
                os.path.join(folder, request.vgpu_uuid + '.json'))

    def attach(self, request: base.PlatformRequest) -> base.PlatformAttachment:
        self.validate(request)
        env_path, json_path = self.files(request)
        local = all(s.host == request.consumer.host for s in request.slices)
        if local:
            env: dict[str, str] = {}
            for slice_ in request.slices:
                for key, value in slice_.env.items():
                    if key in env and key.endswith('VISIBLE_DEVICES'):
                        env[key] = f'{env[key]},{value}'
                    else:
                        env[key] = value
            document = {'vgpu': request.vgpu_uuid, 'env': env,
                        'devices': sorted({d for s in request.slices for d in s.device_nodes}),
                        'mounts': [{'host': m.host, 'container': m.container,
                                    'readonly': m.readonly}
                                   for s in request.slices for m in s.mounts]}
        elif request.remote is not None:
            document = dict(request.remote.document)
            env = {'POOLING_LEASE_FILE': json_path}
        else:
            raise base.InvalidRequestError(
                f'vGPU {request.vgpu_uuid} is on another host and has no remote lease')
        env['POOLING_VGPU'] = request.vgpu_uuid
        body = ''.join(f'{k}={shlex.quote(str(v))}\n' for k, v in sorted(env.items()))
        _write(json_path, json.dumps(document, indent=2, sort_keys=True) + '\n')
        _write(env_path, body)
        return base.PlatformAttachment(self.name, request.vgpu_uuid, env_path,
                                       {'files': [env_path, json_path],
                                        'mode': 'local' if local else 'remote'})

    def detach(self, request: base.PlatformRequest,
               attachment: base.PlatformAttachment | None = None) -> None:
        try:
            self.validate(request)
        except base.InvalidRequestError:
            return  # nothing of ours can have that name
        for path in self.files(request):
            _remove(path)
        _rmdir(os.path.dirname(self.files(request)[0]))

    def reconcile(self, active: Sequence[base.PlatformRequest]) -> list[base.Drift]:
        wanted = {r.vgpu_uuid: r for r in active if self.handles(r)}
        drifts = []
        for job in _listdir(self.state_dir):
            folder = os.path.join(self.state_dir, job)
            for name in _listdir(folder):
                uuid, ext = os.path.splitext(name)
                request = wanted.get(uuid)
                if ext in ('.env', '.json') and (request is None or request.consumer.id != job):
                    _remove(os.path.join(folder, name))
                    if ext == '.env':
                        drifts.append(base.Drift(uuid, f'files of job {job} for a vGPU not '
                                                       'ACTIVE there', 'repaired'))
            _rmdir(folder)
        for uuid, request in wanted.items():
            if not all(os.path.exists(p) for p in self.files(request)):
                try:
                    self.attach(request)
                    drifts.append(base.Drift(uuid, 'ACTIVE but files missing', 'repaired'))
                except base.PlatformError as exc:
                    drifts.append(base.Drift(uuid, f'ACTIVE but files missing: {exc}'))
        return drifts


def _write(path: str, text: str) -> None:
    folder = os.path.dirname(path)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.tmp-')
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as handle:
            handle.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        _remove(tmp)
        raise base.PlatformError(f'writing {path}: {exc}') from exc


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def _rmdir(path: str) -> None:
    try:
        os.rmdir(path)
    except OSError:
        pass  # not empty, or gone


def _listdir(path: str) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except (FileNotFoundError, NotADirectoryError):
        return []
