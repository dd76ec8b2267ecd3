"""Credentials: random, hashed, constant-time check, expiry, never shown."""

import datetime

import pytest

from pooling.gateway import credentials


def test_mint_is_random_256_bits_and_hash_only_is_kept():
    a, b = credentials.mint(), credentials.mint()
    assert a.token != b.token and len(a.token) >= 43
    assert a.sha256 == credentials.hash_token(a.token) and len(a.sha256) == 64
    assert a.token not in repr(a) and a.token not in str(a)


def test_default_lifetime_is_one_hour():
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    assert credentials.mint(now=now).expires_at == now + datetime.timedelta(hours=1)
    with pytest.raises(ValueError):
        credentials.mint(datetime.timedelta(0))


def test_verify():
    cred = credentials.mint()
    assert credentials.verify(cred.token, cred.sha256)
    assert not credentials.verify(cred.token + 'x', cred.sha256)
    assert not credentials.verify('', cred.sha256)
    assert not credentials.verify('y' * 10000, cred.sha256)
    assert not credentials.verify(credentials.mint().token, cred.sha256)


def test_expiry():
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    assert credentials.is_expired(now, now)
    assert not credentials.is_expired(now + datetime.timedelta(seconds=1), now)
    assert not credentials.is_expired(None, now)
    assert credentials.is_expired(now.timestamp() - 1, now)
