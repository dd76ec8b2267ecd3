"""Helpers shared by the CLI commands: output shaping and bulk delete.

Every command returns plain (columns, values) to cliff, so ``-f``, ``-c`` and
the other openstackclient output habits work the same for all of them.
"""

import contextlib
import logging
import re

from cliff import columns as cliff_columns
from osc_lib.cli import format_columns

from poolingclient import exceptions

LOG = logging.getLogger(__name__)


def client(cmd):
    """The v1 client of the running ``openstack`` command."""
    return cmd.app.client_manager.accelerator_pool


def project_id(cmd, project: str) -> str:
    """A project's ID from its name or ID, through Keystone when there is one."""
    from poolingclient.v1.client import is_uuid_like

    if not project or is_uuid_like(project):
        return project
    try:
        from openstackclient.identity import common as identity_common

        return identity_common.find_project(cmd.app.client_manager.identity, project).id
    except Exception:  # noqa: BLE001 - noauth has no identity: take it as an ID
        return project


def percent(value: float | None) -> float | int | None:
    """A --compute value as sent: a whole number as an int, so that servers before the
    one-decimal compute_percent (integers only) still accept it."""
    if value is not None and float(value).is_integer():
        return int(value)
    return value


def _formatted(value):
    """Wrap nested values so tables stay readable and JSON stays structured."""
    if isinstance(value, dict):
        return format_columns.DictColumn(value)
    if isinstance(value, list):
        if value and all(isinstance(v, dict) for v in value):
            return format_columns.ListDictColumn(value)
        return format_columns.ListColumn(value)
    return value


#: Longest scalar a readable line quotes whole (a PEM certificate is summarised).
SHORT = 72


def _short(value) -> str:
    text = "-" if value is None else str(value)
    if len(text) > SHORT or "\n" in text:
        return "<%d characters>" % len(text)
    return text


def _lines(value, prefix: str = ""):
    """One ``path: value`` line per leaf; a list of flat dicts one line per item."""
    if isinstance(value, dict) and value:
        for key in sorted(value):
            yield from _lines(value[key], f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for i, item in enumerate(value):
            if all(not isinstance(v, (dict, list)) for v in item.values()):
                flat = ", ".join(f"{k}={_short(item[k])}" for k in sorted(item))
                yield f"{prefix}[{i}]: {flat}"
            else:
                yield from _lines(item, f"{prefix}[{i}]")
    elif isinstance(value, list):
        yield f"{prefix}: " + (", ".join(_short(v) for v in value) or "-")
    else:
        yield f"{prefix}: {_short(value) if value != {} else '-'}"


class LinesColumn(cliff_columns.FormattableColumn):
    """A nested value as short ``path: value`` lines in a table; as it is in JSON/YAML.

    ``vgpu show`` printed its attachment as one ~450-character Python repr.
    """

    def human_readable(self):
        if self._value is None:
            return ""
        return "\n".join(line.lstrip(": ") if line.startswith(":") else line
                         for line in _lines(self._value))

    def machine_readable(self):
        return self._value


def show(resource: dict, hidden: tuple = (), lines: tuple = ()) -> tuple[tuple, tuple]:
    """A ShowOne answer: every field of the resource, sorted by name; the fields in
    ``lines`` as readable lines (LinesColumn)."""
    keys = tuple(sorted(k for k in resource if k not in hidden))
    return keys, tuple(LinesColumn(resource[k]) if k in lines else _formatted(resource[k])
                       for k in keys)


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

    def path(match):
        # NOTE: validation names nested fields by path: 'quota/vgpus', 'consumer/host'.
        parts = match.group(1).split("/")
        name = flags.get(".".join(parts[-2:])) or flags.get(parts[-1])
        return name or match.group(0)

    text = re.sub(r"'([a-z_]+(?:/[a-z_0-9]+)+)'", path, text)
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
