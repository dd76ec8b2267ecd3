"""``none``, ``hami`` and ``mps``: isolation that needs no hardware partition.

``none`` hands over the whole device, time-sliced with whoever else holds it.  ``hami`` sets the
soft limits of HAMi-core (``libvgpu.so``, loaded with ``LD_PRELOAD``), which intercepts CUDA
allocations and kernel launches.  ``mps`` makes the slice a client of a per-card MPS control
daemon, capped with ``CUDA_MPS_ACTIVE_THREAD_PERCENTAGE`` and
``CUDA_MPS_PINNED_DEVICE_MEM_LIMIT``; the daemon starts with the first slice of a card and stops
after the last.  Variables and files as documented by NVIDIA (MPS) and Project-HAMi/HAMi-core.
"""

from __future__ import annotations

import logging
import posixpath
import threading

from pooling_drivers.accelerators import errors as driver_errors
from pooling_drivers.isolation import base

LOG = logging.getLogger(__name__)


class NonePlugin(base.IsolationPlugin):
    """The whole device, shared by time-slicing; no limit is enforced."""

    name = 'none'
    level = 'none'

    def prepare(self, request, device, driver):
        return base.SliceAttachment(
            device_uuid=device.uuid, isolation=self.level, plugin=self.name,
            visible_uuid=device.uuid, env=base.visible_env(device),
            devices=device.device_nodes)


class HamiPlugin(base.IsolationPlugin):
    """Soft limits through HAMi-core.

    Options: ``preload_library`` (default ``/usr/local/vgpu/libvgpu.so``), ``lock_dir``
    (``/tmp/vgpulock``, must be writable and shared), ``cache_dir`` (``/var/lib/pooling/vgpu``),
    ``core_policy`` (``default`` | ``force`` | ``disable``: HAMi-core skips the core limit when a
    card has one tenant unless ``force``).
    """

    name = 'hami'
    level = 'soft'
    vendors = ('nvidia',)

    def _cache_file(self, request):
        cache_dir = self.options.get('cache_dir') or '/var/lib/pooling/vgpu'
        return posixpath.join(cache_dir, f'{request.vgpu_uuid}-{request.index}.cache')

    def prepare(self, request, device, driver):
        library = self.options.get('preload_library') or '/usr/local/vgpu/libvgpu.so'
        lock_dir = self.options.get('lock_dir') or '/tmp/vgpulock'
        cache = self._cache_file(request)
        env = base.visible_env(device)
        env.update({
            # NOTE: _0 because the consumer sees exactly one device, ordinal 0.
            'CUDA_DEVICE_MEMORY_LIMIT_0': f'{request.memory_mb}m',
            'CUDA_DEVICE_SM_LIMIT': str(request.core_percent),
            'CUDA_DEVICE_MEMORY_SHARED_CACHE': cache,
            'LD_PRELOAD': library,
        })
        policy = self.options.get('core_policy') or 'default'
        if policy != 'default':
            env['GPU_CORE_UTILIZATION_POLICY'] = policy
        # NOTE: HAMi-core keeps limits in the cache file; a stale one would keep old limits.
        self.seam.remove(cache)
        return base.SliceAttachment(
            device_uuid=device.uuid, isolation=self.level, plugin=self.name,
            visible_uuid=device.uuid, env=env, devices=device.device_nodes,
            mounts=(base.Mount(library, library), base.Mount(lock_dir, lock_dir, False),
                    base.Mount(posixpath.dirname(cache), posixpath.dirname(cache), False)))

    def release(self, request, device, driver, attachment):
        self.seam.remove(self._cache_file(request))


class MpsPlugin(base.IsolationPlugin):
    """Firm limits through one MPS control daemon per card.

    Options: ``run_dir`` (default ``/var/run/pooling/mps``; each card gets ``<uuid>/pipe`` and
    ``<uuid>/log``), ``control`` (``nvidia-cuda-mps-control``).
    """

    name = 'mps'
    level = 'firm'
    vendors = ('nvidia',)

    def __init__(self, options=None, seam=None):
        super().__init__(options, seam)
        #: Per device uuid, the slices (``(vgpu, index)``) that use its daemon.
        self.clients: dict[str, set[tuple[str, int]]] = {}
        # NOTE: concurrent RPC handlers prepare and release slices of one card;
        # the client table and the daemon's start/stop must change together.
        self._lock = threading.RLock()

    def unavailable(self):
        control = self._control()
        return '' if self.seam.which(control) else f'MPS control program {control} not found'

    def _dirs(self, device_uuid):
        root = posixpath.join(self.options.get('run_dir') or '/var/run/pooling/mps', device_uuid)
        return posixpath.join(root, 'pipe'), posixpath.join(root, 'log')

    def _daemon_env(self, device):
        pipe, log = self._dirs(device.uuid)
        env = base.visible_env(device)
        env.update({'CUDA_MPS_PIPE_DIRECTORY': pipe, 'CUDA_MPS_LOG_DIRECTORY': log})
        return env

    def _control(self):
        return self.options.get('control') or 'nvidia-cuda-mps-control'

    def prepare(self, request, device, driver):
        with self._lock:
            return self._prepare(request, device)

    def _prepare(self, request, device):
        pipe, _log = self._dirs(device.uuid)
        if not self.seam.exists(posixpath.join(pipe, 'control')):
            result = self.seam.run([self._control(), '-d'], env=self._daemon_env(device))
            if result.rc != 0:
                raise driver_errors.SeamError(
                    f'cannot start the MPS daemon for {device.uuid}: rc={result.rc} '
                    f'{result.stderr.strip()}')
            LOG.info('started the MPS control daemon for device %s', device.uuid)
        self.clients.setdefault(device.uuid, set()).add((request.vgpu_uuid, request.index))
        env = base.visible_env(device)
        env.update({
            'CUDA_MPS_PIPE_DIRECTORY': pipe,
            'CUDA_MPS_ACTIVE_THREAD_PERCENTAGE': str(request.core_percent),
            # NOTE: ordinal 0: the client sees only this card.
            'CUDA_MPS_PINNED_DEVICE_MEM_LIMIT': f'0={request.memory_mb}M',
        })
        return base.SliceAttachment(
            device_uuid=device.uuid, isolation=self.level, plugin=self.name,
            visible_uuid=device.uuid, env=env, devices=device.device_nodes,
            mounts=(base.Mount(pipe, pipe, False),))

    def adopt(self, request, attachment):
        with self._lock:
            self.clients.setdefault(request.device_uuid, set()).add(
                (request.vgpu_uuid, request.index))

    def release(self, request, device, driver, attachment):
        with self._lock:
            self._release(request, device)

    def _release(self, request, device):
        users = self.clients.get(device.uuid, set())
        users.discard((request.vgpu_uuid, request.index))
        if users:
            return
        self.clients.pop(device.uuid, None)
        pipe, _log = self._dirs(device.uuid)
        if not self.seam.exists(posixpath.join(pipe, 'control')):
            return
        result = self.seam.run([self._control()], input='quit\n', env=self._daemon_env(device))
        if result.rc != 0:
            LOG.warning('MPS daemon for %s did not quit cleanly: rc=%s %s', device.uuid,
                        result.rc, result.stderr.strip())
        else:
            LOG.info('stopped the MPS control daemon for device %s', device.uuid)
