"""``fake``: a first-class in-memory platform for tests and the all-in-one.

It keeps what it attached in a dict (shared by every instance made with the same ``book`` option
object, so a test can look), honours the contract's idempotence rules, and can be told to refuse
a consumer (``refuse`` option: a set of consumer ids) so that callers' error paths are exercised.
It touches nothing outside the process.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pooling_drivers.platforms import base


class FakePlatform(base.PlatformDriver):
    """Serves the consumer platforms named in ``options["platforms"]`` (default ``fake``).

    Options: ``platforms`` (iterable of consumer platform names), ``book`` (a dict to record
    attachments in, ``{vgpu_uuid: PlatformAttachment}``), ``refuse`` (consumer ids whose attach
    raises :class:`~pooling_drivers.platforms.base.ConsumerNotFoundError`).
    """

    name = 'fake'
    platforms = ('fake',)

    def __init__(self, options=None) -> None:
        super().__init__(options)
        self.platforms = tuple(self.options.get('platforms') or type(self).platforms)
        self.book: dict[str, base.PlatformAttachment] = self.options.get('book')
        if self.book is None:
            self.book = {}
        self.refuse = frozenset(self.options.get('refuse') or ())

    def attach(self, request: base.PlatformRequest) -> base.PlatformAttachment:
        if request.consumer.id in self.refuse:
            raise base.ConsumerNotFoundError(f'no consumer {request.consumer.id!r}')
        if not request.slices:
            raise base.InvalidRequestError(f'vGPU {request.vgpu_uuid} has no slices')
        details: dict[str, Any] = {
            'consumer': request.consumer.id, 'remote': request.is_remote,
            'devices': [s.visible_uuid or s.device_uuid for s in request.slices]}
        attachment = base.PlatformAttachment(self.name, request.vgpu_uuid,
                                             f'fake:{request.vgpu_uuid}', details)
        self.book.setdefault(request.vgpu_uuid, attachment)
        return self.book[request.vgpu_uuid]

    def detach(self, request, attachment=None) -> None:
        self.book.pop(request.vgpu_uuid, None)

    def reconcile(self, active: Sequence[base.PlatformRequest]) -> list[base.Drift]:
        wanted = {r.vgpu_uuid for r in active if self.handles(r)}
        drifts = [base.Drift(uuid, 'attached but not ACTIVE', 'repaired', att.handle)
                  for uuid, att in sorted(self.book.items()) if uuid not in wanted]
        for drift in drifts:
            del self.book[drift.vgpu_uuid]
        missing = [r for r in active if self.handles(r) and r.vgpu_uuid not in self.book]
        drifts += super().reconcile(missing)
        drifts += [base.Drift(r.vgpu_uuid, 'ACTIVE but not attached', 'repaired')
                   for r in missing if r.vgpu_uuid in self.book]
        return drifts
