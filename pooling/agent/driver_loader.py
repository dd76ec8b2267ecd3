"""Load the accelerator drivers an agent's config enables, and say what each one sees.

Only configured names are loaded (stevedore, namespace ``pooling.accelerators``).  A name with no
entry point is a configuration mistake: it stops the agent at start, naming the known drivers.  A
driver whose library or tool is missing on this host is a fact of the host: it is logged and
skipped and the agent goes on with the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from importlib import metadata
import logging
from typing import Any

from stevedore import named

from pooling_drivers.accelerators import base
from pooling_drivers.accelerators import errors
from pooling_drivers.accelerators.errors import UnknownDriverError
from pooling_drivers.accelerators.types import as_dict

LOG = logging.getLogger(__name__)

NAMESPACE = 'pooling.accelerators'

__all__ = ['NAMESPACE', 'UnknownDriverError', 'device_report', 'known_drivers',
           'load_accelerator_drivers', 'probe']


def known_drivers() -> list[str]:
    """List the installed accelerator driver names.

    :returns: sorted entry-point names of ``pooling.accelerators``.
    """
    return sorted({ep.name for ep in metadata.entry_points(group=NAMESPACE)})


def _unique(names: Sequence[str]) -> list[str]:
    seen: list[str] = []
    for name in names:
        name = name.strip()
        if name and name not in seen:
            seen.append(name)
    return seen


def _load(names: Sequence[str], options: Mapping[str, Mapping[str, str]] | None,
          seam: Any = None) -> list[tuple[str, base.AcceleratorDriver | None, str]]:
    """Return ``(name, driver or None, why not)`` for each name, in order.

    :raises UnknownDriverError: a name has no entry point.
    """
    wanted = _unique(names)
    missing = sorted(set(wanted) - set(known_drivers()))
    if missing:
        raise UnknownDriverError(
            f'unknown accelerator driver(s): {", ".join(missing)}; '
            f'known: {", ".join(known_drivers()) or "none"}')
    failures: dict[str, str] = {}

    def on_failure(_manager, entrypoint, exc):
        failures[entrypoint.name] = f'cannot import {entrypoint.value}: {exc}'

    manager = named.NamedExtensionManager(
        NAMESPACE, names=wanted, name_order=True, invoke_on_load=False,
        on_load_failure_callback=on_failure)
    plugins = {ext.name: ext.plugin for ext in manager}
    result: list[tuple[str, base.AcceleratorDriver | None, str]] = []
    for name in wanted:
        if name in failures:
            result.append((name, None, failures[name]))
            continue
        cls = plugins[name]
        if not (isinstance(cls, type) and issubclass(cls, base.AcceleratorDriver)):
            raise UnknownDriverError(
                f'accelerator driver {name!r} ({cls!r}) is not an AcceleratorDriver')
        try:
            driver = cls(options=dict((options or {}).get(name, {})), seam=seam)
        except (ValueError, errors.DriverError) as exc:
            # NOTE: bad options are a configuration mistake like an unknown name: stop.
            raise ValueError(f'accelerator driver {name!r}: {exc}') from exc
        availability = driver.available()
        if not availability.ok:
            result.append((name, None, availability.reason or 'unavailable'))
            continue
        result.append((name, driver, ''))
    return result


def load_accelerator_drivers(
        names: list[str], options: dict[str, dict[str, str]] | None = None,
        seam: Any = None) -> list[base.AcceleratorDriver]:
    """Load, configure and check the enabled accelerator drivers.

    :param names: enabled driver names, in the order the agent should use them.
    :param options: per driver name, its string options.
    :param seam: a :class:`pooling_drivers.accelerators.seam.Seam` for every driver (tests);
        ``None`` for the real host.
    :returns: the drivers that are available on this host, in ``names`` order.
    :raises UnknownDriverError: a name has no ``pooling.accelerators`` entry point.
    :raises ValueError: a driver rejected its options.
    """
    drivers = []
    for name, driver, why in _load(names, options, seam):
        if driver is None:
            LOG.warning('accelerator driver %s is unavailable on this host, skipped: %s',
                        name, why)
        else:
            drivers.append(driver)
    return drivers


def device_report(drivers: list[base.AcceleratorDriver]) -> list[dict[str, Any]]:
    """Return every device of every driver as a dict, with its hard-partition shapes.

    The scheduler snaps a ``hard`` request to one of ``partition_profiles`` (MIG profiles,
    vNPU templates), so the agent reports them with the device.  A driver that fails is
    logged and left out; the others still report.

    :param drivers: loaded drivers.
    :returns: ``DeviceInfo`` fields plus ``driver`` and ``partition_profiles`` (list of
        ``{"name", "profile_id", "memory_mb", "compute_units", "compute_milli",
        "max_instances", "placements", "custom"}``).
    """
    report = []
    for driver in drivers:
        try:
            devices = driver.discover()
        except errors.DriverError as exc:
            LOG.error('driver %s failed to discover devices: %s', driver.name, exc)
            continue
        for device in devices:
            entry = as_dict(device)
            entry['driver'] = driver.name
            try:
                entry['partition_profiles'] = (
                    as_dict(driver.partition_profiles(device.uuid))
                    if 'hard' in device.isolation else [])
            except errors.DriverError as exc:
                LOG.warning('driver %s: no partition profiles for %s: %s', driver.name,
                            device.uuid, exc)
                entry['partition_profiles'] = []
            report.append(entry)
    return report


def link_report(drivers: list[base.AcceleratorDriver]) -> list[list[str]]:
    """Every driver's links between its cards, as ``[uuid_a, uuid_b, kind]`` lists.

    The claim service turns them into NVLink/PCIe groups (``PoolModel.set_topology``) so that
    a multi-card vGPU gets cards sharing the best link.  A driver whose topology fails is
    logged and contributes none; the others still report.
    """
    out = []
    for driver in drivers:
        try:
            links = driver.topology().links
        except errors.DriverError as exc:
            LOG.warning('driver %s: no topology: %s', driver.name, exc)
            continue
        out.extend([link.a, link.b, link.kind] for link in links)
    return out


def _describe(driver: base.AcceleratorDriver) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    try:
        devices = driver.discover()
    except errors.DriverError as exc:
        return {'available': False, 'reason': f'discovery failed: {exc}', 'devices': []}
    entry['devices'] = [as_dict(d) for d in devices]
    for device in entry['devices']:
        try:
            device['partition_profiles'] = [
                p.name for p in driver.partition_profiles(device['uuid'])]
        except errors.DriverError as exc:
            device['partition_profiles'] = f'error: {exc}'
    try:
        entry['health'] = as_dict(driver.health())
    except errors.DriverError as exc:
        entry['health'] = f'error: {exc}'
    try:
        entry['links'] = as_dict(list(driver.topology().links))
    except errors.DriverError as exc:
        entry['links'] = f'error: {exc}'
    return entry


def probe(names: list[str], options: dict[str, dict[str, str]] | None = None,
          seam: Any = None) -> list[dict[str, Any]]:
    """Say what each enabled driver sees on this host (``pooling-manage drivers probe``).

    :param names: enabled driver names.
    :param options: per driver name, its string options.
    :param seam: as in :func:`load_accelerator_drivers`.
    :returns: per name ``{"name", "available", "reason", "devices", "health", "links"}``;
        devices as dicts with their ``partition_profiles`` names.
    :raises UnknownDriverError: a name has no entry point.
    :raises ValueError: a driver rejected its options.
    """
    report = []
    for name, driver, why in _load(names, options, seam):
        entry: dict[str, Any] = {'name': name, 'available': driver is not None,
                                 'reason': why, 'devices': []}
        if driver is not None:
            entry.update(_describe(driver))
            driver.close()
        report.append(entry)
    return report
