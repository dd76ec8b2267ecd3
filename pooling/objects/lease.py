"""Remote vGPU leases: issue, renew, revoke, expire.

A credential is 256 random bits, shown once to whoever asked for it (the
vGPU's owner, an admin, or Nova's service user through vendordata) and kept
only as its SHA-256: a stolen database never yields one. ``lease_id`` names
the lease in the device hosts' gateways; the conductor gives a new one at
every prepare and every move, so a gateway never confuses an old placement
with a new one.
"""

import datetime

from oslo_utils import timeutils
from oslo_utils import uuidutils
import sqlalchemy as sa

from pooling import exception
from pooling.db import api as db_api
from pooling.db import models
from pooling.gateway import credentials
from pooling.objects import base

_V = models.VGPU


def new_lease_id() -> str:
    return uuidutils.generate_uuid()


def _live_remote(context, uuid, project_id):
    query = sa.select(_V).where(_V.uuid == uuid, _V.state != 'DELETED')
    if project_id is not None:
        query = query.where(_V.project_id == project_id)
    row = context.session.scalars(query.with_for_update()).first()
    if row is None:
        raise exception.NotFound(kind='vGPU', ident=uuid)
    return row


@db_api.writer
def issue(context, uuid: str, lifetime: int, project_id=None) -> tuple[str, dict]:
    """Give the vGPU a new credential valid ``lifetime`` seconds; the old one stops working.

    :returns: ``(token, {'lease_id', 'expires_at'})``.
    :raises NotFound: no such vGPU (in ``project_id``).
    :raises Conflict: the vGPU is not an ACTIVE remote one.
    """
    row = _live_remote(context, uuid, project_id)
    return _mint(row, lifetime)


@db_api.writer
def renew(context, uuid: str, lifetime: int, project_id=None) -> dict:
    """Push the live credential's expiry ``lifetime`` seconds from now (same credential)."""
    row = _live_remote(context, uuid, project_id)
    _check_remote(row)
    if not row.lease_token_sha256 or row.lease_expires_at <= timeutils.utcnow():
        raise exception.Conflict(reason='vGPU %s has no live credential to renew; issue one'
                                 % uuid)
    row.lease_expires_at = timeutils.utcnow() + datetime.timedelta(seconds=lifetime)
    return {'lease_id': row.lease_id, 'expires_at': base.iso(row.lease_expires_at)}


@db_api.writer
def revoke(context, uuid: str, project_id=None) -> None:
    """Forget the credential: the gateways refuse it and cut its connections."""
    row = _live_remote(context, uuid, project_id)
    row.lease_token_sha256, row.lease_expires_at = None, None


def _mint(row, lifetime: int) -> tuple[str, dict]:
    """Give ``row`` (an ACTIVE remote vGPU) a new credential; only its hash is kept."""
    _check_remote(row)
    credential = credentials.mint(datetime.timedelta(seconds=lifetime))
    row.lease_token_sha256 = credential.sha256
    row.lease_expires_at = credential.expires_at.replace(tzinfo=None)
    return credential.token, {'lease_id': row.lease_id,
                              'expires_at': base.iso(row.lease_expires_at)}


def _check_remote(row) -> None:
    attachment = base.loads(row.attachment) or {}
    if row.state != 'ACTIVE' or not attachment.get('remote'):
        raise exception.Conflict(
            reason='vGPU %s is %s and %s: only an ACTIVE remote vGPU has a lease'
            % (row.uuid, row.state, 'remote' if attachment.get('remote') else 'not remote'))


@db_api.reader
def due_on_platforms(context, within_seconds: int, not_on_agents) -> list[str]:
    """uuids of ACTIVE vGPUs whose credential expires within ``within_seconds`` and whose
    consumer's platform holds the lease document (a container's lease file, a VM's guestinfo):
    nobody runs ``pooling run --vgpu`` there to fetch a fresh one, so the conductor rotates it.
    An owner's revoked credential (no expiry) is left revoked."""
    horizon = timeutils.utcnow() + datetime.timedelta(seconds=within_seconds)
    return list(context.session.scalars(
        sa.select(_V.uuid).where(_V.state == 'ACTIVE', _V.lease_expires_at.is_not(None),
                                 _V.lease_expires_at < horizon,
                                 _V.consumer_platform.is_not(None),
                                 _V.consumer_platform.not_in(list(not_on_agents)))))


@db_api.writer
def rotate_if_due(context, uuid: str, lifetime: int,
                  within_seconds: int) -> tuple[str, dict] | None:
    """Issue a new credential if the live one still expires within ``within_seconds``.

    Locks the row, so of several conductors running this at once one rotates and the others
    get ``None`` (the expiry they saw has moved): a platform is never handed a credential that
    another conductor replaced a moment later.
    """
    row = context.session.scalars(
        sa.select(_V).where(_V.uuid == uuid).with_for_update()).first()
    horizon = timeutils.utcnow() + datetime.timedelta(seconds=within_seconds)
    if (row is None or row.state != 'ACTIVE' or row.lease_expires_at is None
            or row.lease_expires_at >= horizon):
        return None
    return _mint(row, lifetime)


@db_api.reader
def expired(context) -> list[str]:
    """uuids of live vGPUs whose credential has expired (the conductor revokes them)."""
    return list(context.session.scalars(
        sa.select(_V.uuid).where(_V.lease_expires_at.is_not(None),
                                 _V.lease_expires_at < timeutils.utcnow(),
                                 _V.state != 'DELETED')))


@db_api.writer
def clear_expired(context, uuids) -> None:
    context.session.execute(
        sa.update(_V).where(_V.uuid.in_(list(uuids)), _V.lease_expires_at < timeutils.utcnow())
        .values(lease_token_sha256=None, lease_expires_at=None))
