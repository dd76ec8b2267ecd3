"""The controller: keeps ResourceSlices and DeviceClasses in step with the pool.

Every pass reads the pool's books through its REST API, builds the objects of :mod:`model`, and
makes the cluster match: creates what is missing, replaces what changed (with the
``resourceVersion`` it read, so a concurrent writer makes the replace fail with 409 and the
object is read again and retried), deletes ours that the pool no longer has.  A pool's
generation grows whenever its content changes; the content digest is kept in an annotation so a
restarted controller continues the sequence instead of restarting it (consumers ignore slices of
a lower generation).

Only objects we made are touched: slices are listed with ``fieldSelector=spec.driver=<ours>``
and classes with our ``managed-by`` label.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from typing import Any

from pooling_drivers.platforms.kubernetes import model

LOG = logging.getLogger(__name__)

DIGEST = f'{model.DOMAIN}/content-digest'
MANAGED = 'app.kubernetes.io/managed-by=pooling-k8s'
RETRIES = 3


@dataclasses.dataclass
class SyncResult:
    created: list[str] = dataclasses.field(default_factory=list)
    updated: list[str] = dataclasses.field(default_factory=list)
    deleted: list[str] = dataclasses.field(default_factory=list)
    conflicts: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deleted)


class Publisher:
    """Publishes the pool into one cluster.

    :param api_client: a ``kubernetes.client.ApiClient`` for the cluster.
    """

    def __init__(self, api_client) -> None:
        from kubernetes import client as k8s

        self.api_client = api_client
        self.api = k8s.ResourceV1Api(api_client)

    # Reading ------------------------------------------------------------------
    def _plain(self, obj) -> dict[str, Any]:
        return self.api_client.sanitize_for_serialization(obj)

    def current_slices(self) -> dict[str, dict[str, Any]]:
        items = self.api.list_resource_slice(
            field_selector=f'spec.driver={model.DRIVER}').items
        return {s.metadata.name: self._plain(s) for s in items}

    def current_classes(self) -> dict[str, dict[str, Any]]:
        items = self.api.list_device_class(label_selector=MANAGED).items
        return {c.metadata.name: self._plain(c) for c in items}

    @staticmethod
    def generations(current: dict[str, dict[str, Any]]) -> dict[str, tuple[int, str]]:
        """``{pool: (highest generation, its digest)}`` of the published slices."""
        out: dict[str, tuple[int, str]] = {}
        for s in current.values():
            pool = s['spec']['pool']
            digest = (s['metadata'].get('annotations') or {}).get(DIGEST, '')
            if pool['name'] not in out or pool['generation'] > out[pool['name']][0]:
                out[pool['name']] = (pool['generation'], digest)
        return out

    # Writing ------------------------------------------------------------------
    def sync(self, view: model.PoolView) -> SyncResult:
        """One pass: make the cluster show ``view``."""
        result = SyncResult()
        wanted_classes = {c['metadata']['name']: c for c in model.device_classes(view)}
        self._converge('DeviceClass', wanted_classes, self.current_classes(), result)
        wanted = model.resource_slices(view)
        current = self.current_slices()
        stamped = model.with_generations(wanted, self.generations(current))
        objects = {}
        for pool, slices in stamped.items():
            digest = model.content_digest(wanted[pool])
            for s in slices:
                s['metadata'].setdefault('annotations', {})[DIGEST] = digest
                objects[s['metadata']['name']] = s
        self._converge('ResourceSlice', objects, current, result)
        if result.changed:
            LOG.info('published: %d created, %d updated, %d deleted', len(result.created),
                     len(result.updated), len(result.deleted))
        return result

    def _converge(self, kind: str, wanted: dict, current: dict, result: SyncResult) -> None:
        for name, obj in sorted(wanted.items()):
            have = current.get(name)
            if have is None:
                self._create(kind, obj, result)
            elif not _same(obj, have):
                self._replace(kind, name, obj, have, result)
        for name in sorted(set(current) - set(wanted)):
            self._delete(kind, name, result)

    def _call(self, verb: str, kind: str, *args, **kwargs):
        snake = {'DeviceClass': 'device_class', 'ResourceSlice': 'resource_slice'}[kind]
        return getattr(self.api, f'{verb}_{snake}')(*args, **kwargs)

    def _create(self, kind, obj, result) -> None:
        from kubernetes.client import exceptions as k8s_exc

        try:
            self._call('create', kind, obj)
            result.created.append(obj['metadata']['name'])
        except k8s_exc.ApiException as exc:
            if exc.status != 409:
                raise
            # Someone made it meanwhile: replace it with ours.
            have = self._plain(self._call('read', kind, obj['metadata']['name']))
            self._replace(kind, obj['metadata']['name'], obj, have, result)

    def _replace(self, kind, name, obj, have, result) -> None:
        from kubernetes.client import exceptions as k8s_exc

        for _attempt in range(RETRIES):
            body = dict(obj, metadata=dict(obj['metadata'],
                                           resourceVersion=have['metadata']['resourceVersion']))
            try:
                self._call('replace', kind, name, body)
                result.updated.append(name)
                return
            except k8s_exc.ApiException as exc:
                if exc.status != 409:
                    raise
                result.conflicts += 1
                LOG.info('%s %s changed under us: reading it again', kind, name)
                have = self._plain(self._call('read', kind, name))
                if _same(obj, have):
                    return
        raise RuntimeError(f'{kind} {name}: still conflicting after {RETRIES} tries')

    def _delete(self, kind, name, result) -> None:
        from kubernetes.client import exceptions as k8s_exc

        try:
            self._call('delete', kind, name)
        except k8s_exc.ApiException as exc:
            if exc.status != 404:
                raise
        result.deleted.append(name)


def _same(wanted: dict, have: dict) -> bool:
    """Whether the cluster's object already says what we want (server fields ignored)."""
    meta_w, meta_h = wanted['metadata'], have.get('metadata') or {}
    if (meta_w.get('labels') or {}) != (meta_h.get('labels') or {}):
        return False
    if (meta_w.get('annotations') or {}) != (meta_h.get('annotations') or {}):
        return False
    return _prune(wanted['spec']) == _prune(have.get('spec') or {})


def _prune(value):
    """Drop empty values the server may add or omit (``None``, ``[]``, ``{}``, ``False``)."""
    if isinstance(value, dict):
        out = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, [], {}, False)}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


class Controller:
    """Runs :meth:`Publisher.sync` every ``interval`` seconds until stopped."""

    def __init__(self, publisher: Publisher, read_view, interval: float = 10.0) -> None:
        self.publisher = publisher
        self.read_view = read_view
        self.interval = interval
        self._stop = threading.Event()

    def run_once(self) -> SyncResult:
        return self.publisher.sync(self.read_view())

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:
                LOG.exception('publishing the pool to Kubernetes failed; retrying')
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
