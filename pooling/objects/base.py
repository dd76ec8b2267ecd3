"""Helpers shared by the object modules."""

import json

from oslo_utils import uuidutils


def is_uuid(value: str) -> bool:
    return uuidutils.is_uuid_like(value)


def loads(text, default=None):
    return json.loads(text) if text else default


def dumps(value) -> str:
    return json.dumps(value, sort_keys=True)


def timestamps(row) -> dict:
    return {'created_at': _iso(row.created_at), 'updated_at': _iso(row.updated_at)}


def _iso(value):
    return value.strftime('%Y-%m-%dT%H:%M:%SZ') if value else None


iso = _iso
