"""Helpers shared by the object modules."""

import json

from oslo_utils import uuidutils


def is_uuid(value: str) -> bool:
    return uuidutils.is_uuid_like(value)


def ident_clause(model, ident: str):
    """``model.uuid == ident`` for a uuid, else ``model.name == ident``."""
    return model.uuid == ident if is_uuid(ident) else model.name == ident


def loads(text, default=None):
    return json.loads(text) if text else default


def dumps(value) -> str:
    return json.dumps(value, sort_keys=True)


def timestamps(row) -> dict:
    return {'created_at': iso(row.created_at), 'updated_at': iso(row.updated_at)}


def iso(value):
    return value.strftime('%Y-%m-%dT%H:%M:%SZ') if value else None
