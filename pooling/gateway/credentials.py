"""Per-lease bearer credentials: mint, hash, check.

Why a bearer token and not a per-lease client certificate: the lease reaches a consumer through
channels that carry text (Nova vendordata, a mounted file, the API) and must be renewable by its
owner every hour; a 256-bit token is one short string to hand over and rotate, while a client
certificate needs a key pair made on the consumer (or a private key shipped through metadata)
plus a CA that signs per lease and a revocation list the gateway checks.  The token travels only
inside TLS (after the gateway's certificate is verified against the lease's CA), the gateway keeps
only its SHA-256, and revocation is dropping the hash -- immediate, no CRL.

Tokens are ``secrets.token_urlsafe(32)`` (256 random bits, 43 characters).  A token is never
logged; logs name the lease id, and at most :func:`redact` of a hash.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import hmac
import secrets

#: Default lifetime of a credential.
DEFAULT_TTL = datetime.timedelta(hours=1)
#: Random bytes per token.
TOKEN_BYTES = 32
_MAX_TOKEN_CHARS = 256


@dataclasses.dataclass(frozen=True)
class Credential:
    """A freshly minted credential: ``token`` goes to the owner once, ``sha256`` is stored."""

    token: str = dataclasses.field(repr=False)
    sha256: str
    expires_at: datetime.datetime

    def __str__(self) -> str:
        return f'Credential({redact(self.sha256)}, expires {self.expires_at.isoformat()})'


def hash_token(token: str) -> str:
    """Return the hex SHA-256 of ``token`` (what the gateway and the database keep)."""
    return hashlib.sha256(token.encode('utf-8')).hexdigest()


def mint(ttl: datetime.timedelta = DEFAULT_TTL,
         now: datetime.datetime | None = None) -> Credential:
    """Make a new random credential valid for ``ttl``."""
    if ttl <= datetime.timedelta(0):
        raise ValueError(f'a credential lifetime must be positive, got {ttl}')
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return Credential(token=token, sha256=hash_token(token), expires_at=now + ttl)


def verify(token: str, sha256: str) -> bool:
    """Say, in constant time, whether ``token`` hashes to ``sha256``."""
    if not isinstance(token, str) or not token or len(token) > _MAX_TOKEN_CHARS:
        return False
    return hmac.compare_digest(hash_token(token), sha256)


def is_expired(expires_at: datetime.datetime | float | None,
               now: datetime.datetime | None = None) -> bool:
    """Say whether ``expires_at`` (aware datetime or epoch seconds; ``None`` = never) has passed."""
    if expires_at is None:
        return False
    return to_epoch(expires_at) <= (now or datetime.datetime.now(datetime.timezone.utc)).timestamp()


def to_epoch(value: datetime.datetime | float | int) -> float:
    """Epoch seconds of an aware datetime (naive ones are taken as UTC) or a number."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.timestamp()
    return float(value)


def redact(secret: str) -> str:
    """What a log may show of a credential's hash: its first 6 characters (never of a token)."""
    return (secret[:6] + '...') if secret else '<none>'
