"""Helpers shared by the CLI commands: output shaping and bulk delete.

Every command returns plain (columns, values) to cliff, so ``-f``, ``-c`` and
the other openstackclient output habits work the same for all of them.
"""

import contextlib
import logging
import re

from osc_lib.cli import format_columns

from poolingclient import exceptions

LOG = logging.getLogger(__name__)


def client(cmd):
    """The v1 client of the running ``openstack`` command."""
    return cmd.app.client_manager.accelerator_pool


def _formatted(value):
    """Wrap nested values so tables stay readable and JSON stays structured."""
    if isinstance(value, dict):
        return format_columns.DictColumn(value)
    if isinstance(value, list):
        if value and all(isinstance(v, dict) for v in value):
            return format_columns.ListDictColumn(value)
        return format_columns.ListColumn(value)
    return value


def show(resource: dict, hidden: tuple = ()) -> tuple[tuple, tuple]:
    """A ShowOne answer: every field of the resource, sorted by name."""
    keys = tuple(sorted(k for k in resource if k not in hidden))
    return keys, tuple(_formatted(resource[k]) for k in keys)


def listing(items: list[dict], fields: list[tuple[str, str]]) -> tuple[tuple, list]:
    """A Lister answer from ``(header, field)`` pairs; ``a.b`` reads nested dicts."""
    headers = tuple(h for h, _ in fields)
    rows = []
    for item in items:
        row = []
        for _, field in fields:
            value = item
            for part in field.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            row.append(_formatted(value))
        rows.append(tuple(row))
    return headers, rows


def delete_all(names: list[str], delete, kind: str) -> None:
    """Delete each named resource; report every failure, then fail once."""
    if len(names) == 1:
        # NOTE: one resource, one line: the service's own reason.
        delete(names[0])
        return
    failures = 0
    for name in names:
        try:
            delete(name)
        except exceptions.ClientError as exc:
            failures += 1
            LOG.error("Failed to delete %s '%s': %s", kind, name, exc)
    if failures:
        raise exceptions.CommandError(f"Failed to delete {failures} of {len(names)} {kind}s.")


#: The API's request fields and the flags that set them, for error lines.
FLAGS = {
    "compute_percent": "--compute",
    "memory_mb": "--memory",
    "count": "--count",
    "models": "--model",
    "profile": "--profile",
    "locality": "--locality",
    "isolation": "--isolation",
    "consumer": "--consumer",
    "consumer.host": "--consumer host=",
    "description": "--description",
}


def as_flags(text: str, flags: dict = FLAGS) -> str:
    """``text`` with each API field name replaced by its flag: quoted names
    (``'memory_mb'``) and bare ones with ``_`` or ``.`` (``compute_percent``);
    a bare plain word ("a profile") is English, not a field."""

    def flag(match):
        quote, name = match.group(1), match.group(2)
        if not quote and "_" not in name and "." not in name:
            return match.group(0)
        return flags.get(name, match.group(0))

    return re.sub(r"(['\"]?)\b(consumer\.host|[a-z_]+)\b\1", flag, text)


@contextlib.contextmanager
def flag_errors(flags: dict = FLAGS):
    """Re-raise a 400 from the service with the flags of the command line in its
    detail, instead of the API fields the user never typed."""
    try:
        yield
    except exceptions.ApiError as exc:
        if exc.status != 400:
            raise
        exc.detail = as_flags(exc.detail, flags)
        exc.args = (exc.detail,)
        raise
