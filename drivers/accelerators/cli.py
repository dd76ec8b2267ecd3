"""Drivers that read a vendor's ``*-smi`` tool: shared parsing and the common driver shape.

Most domestic accelerators ship no Python binding, but every vendor ships a management tool.
A :class:`CliDriver` runs one inventory command through the seam, turns its output into rows of
named fields with a pure parser, and maps each row to a :class:`DeviceInfo`.  Parsers are pure
functions so that tests feed them recorded outputs; every fixture names where its layout comes
from.

Tools that print no device uuid get a stable one: a UUIDv5 of the host's ``/etc/machine-id``
and the device's PCI address (or serial), so it survives reboots and differs between hosts.
"""

from __future__ import annotations

import abc
import csv
import io
import logging
import re
from typing import Any
from typing import ClassVar
import uuid as uuid_mod

from pooling_drivers.accelerators import base
from pooling_drivers.accelerators import errors
from pooling_drivers.accelerators import vendors
from pooling_drivers.accelerators.types import Availability
from pooling_drivers.accelerators.types import DeviceInfo

LOG = logging.getLogger(__name__)

_NAMESPACE = uuid_mod.UUID('5b0e7d0c-6d3f-4f55-9a7e-706f6f6c6364')
_UUID_RE = re.compile(r'[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?'
                      r'[0-9a-fA-F]{12}')
_SIZE_RE = re.compile(r'([0-9]+(?:\.[0-9]+)?)\s*([KMGT]i?B?|B)?', re.IGNORECASE)
_UNIT_MIB = {'b': 1 / (1024 * 1024), 'k': 1 / 1024, 'm': 1, 'g': 1024, 't': 1024 * 1024}


def to_mib(value: Any, default_unit: str = 'MiB') -> int:
    """Read a memory size such as ``65536 MiB``, ``32 GB``, ``34359738368 B`` as MiB.

    Vendor tools say "MB" and "GB" meaning MiB and GiB; we read them so.

    :param value: text or number.
    :param default_unit: unit when the text has none.
    :returns: whole MiB; 0 when unreadable.
    """
    match = _SIZE_RE.search(str(value).replace(',', ''))
    if not match:
        return 0
    unit = (match.group(2) or default_unit)[0].lower()
    return int(float(match.group(1)) * _UNIT_MIB.get(unit, 1))


def to_int(value: Any, default: int = 0) -> int:
    """Read the first integer in a value (``"20 %"`` → 20).

    :param value: text or number.
    :param default: result when there is none.
    :returns: the integer.
    """
    match = re.search(r'-?[0-9]+', str(value))
    return int(match.group(0)) if match else default


def pci_address(value: Any) -> str:
    """Normalise a PCI address to sysfs form (``0000:c1:00.0``).

    :param value: e.g. ``0000:C1:00.0``, ``00000000:1A:00.0`` or ``1a:00.0``.
    :returns: the normalised address, or ``""``.
    """
    text = str(value).strip().lower()
    match = re.search(r'(?:([0-9a-f]{4,8}):)?([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])', text)
    if not match:
        return ''
    domain = (match.group(1) or '0000')[-4:]
    return f'{domain}:{match.group(2)}:{match.group(3)}.{match.group(4)}'


def parse_csv(text: str, fields: list[str]) -> list[dict[str, str]]:
    """Parse ``--format=csv,noheader,nounits`` output (nvidia-smi's query format).

    :param text: the output.
    :param fields: the queried field names, in order.
    :returns: one dict per line.
    """
    rows = []
    for record in csv.reader(io.StringIO(text.strip())):
        if not record or not ''.join(record).strip():
            continue
        rows.append({name: value.strip() for name, value in zip(fields, record)})
    return rows


def parse_kv_blocks(text: str, start: str) -> list[dict[str, str]]:
    """Parse ``Key : Value`` output where each device starts with a line matching ``start``.

    Nested sections are flattened with their heading: ``PCIe Info`` / ``Bus`` →
    ``PCIe Info.Bus``; a key seen twice keeps its first value.

    :param text: the output.
    :param start: a regular expression matching a device's first line; its first group (if
        any) is stored as ``_index``.
    :returns: one dict per device.
    """
    pattern = re.compile(start)
    blocks: list[dict[str, str]] = []
    section: list[tuple[int, str]] = []
    for raw in text.splitlines():
        if not raw.strip():
            continue
        head = pattern.match(raw.strip())
        if head:
            blocks.append({'_index': head.group(1)} if head.groups() else {})
            section = []
            continue
        if not blocks:
            continue
        indent = len(raw) - len(raw.lstrip())
        while section and section[-1][0] >= indent:
            section.pop()
        if ':' in raw:
            key, _, value = raw.strip().partition(':')
            key, value = key.strip(), value.strip()
            if not value:
                section.append((indent, key))
                continue
            full = '.'.join([name for _i, name in section] + [key])
            blocks[-1].setdefault(full, value)
        else:
            section.append((indent, raw.strip()))
    return blocks


_MEMORY_PAIR_RE = re.compile(r'([0-9]+)\s*(?:MiB)?\s*[/(]\s*([0-9]+)\s*MiB', re.IGNORECASE)


def parse_smi_table(text: str, start: str) -> list[dict[str, str]]:
    """Parse the default boxed table an ``*-smi`` tool prints (nvidia-smi's layout).

    Each device begins on a line matching ``start`` (named groups, e.g. ``index``, ``name``,
    ``bus``, become fields); the first ``used / total MiB`` (or ``used(total)``) pair on that
    line or the lines after it gives ``memory.used`` and ``memory.total``.  Lines before the
    first device (the banner) and the process table are ignored.

    :param text: the output.
    :param start: a regular expression with named groups, matched against each stripped line.
    :returns: one dict per device.
    """
    pattern = re.compile(start)
    rows: list[dict[str, str]] = []
    for raw in text.splitlines():
        head = pattern.match(raw.strip())
        if head:
            rows.append({key: value.strip() for key, value in head.groupdict().items()
                         if value is not None})
        if rows and 'memory.total' not in rows[-1]:
            if re.search(r'process', raw, re.IGNORECASE):
                continue
            pair = _MEMORY_PAIR_RE.search(raw)
            if pair:
                rows[-1]['memory.used'], rows[-1]['memory.total'] = pair.groups()
    return rows


class CliDriver(base.AcceleratorDriver):
    """A driver whose inventory comes from one command of the vendor's tool.

    Subclasses set :attr:`tool`, :attr:`inventory` and :attr:`models` and implement
    :meth:`parse` and :meth:`row_to_device`.  Option ``compute_units`` overrides the per-model
    table for cards it does not know.
    """

    #: The tool's command name.
    tool: ClassVar[str]
    #: Arguments of the inventory command.
    inventory: ClassVar[tuple[str, ...]]
    #: Model-name fragment → compute units, for tools that do not print them.
    models: ClassVar[tuple[tuple[str, int], ...]] = ()

    def available(self) -> Availability:
        if self.seam.which(self.tool) is None:
            return Availability(False, f'{self.tool} not found on PATH')
        try:
            rows = self.rows()
        except errors.DriverError as exc:
            return Availability(False, str(exc))
        return Availability(True) if rows else Availability(False, f'{self.tool} lists no device')

    def run_tool(self, *args: str) -> str:
        """Run the vendor tool and return its standard output.

        :param args: arguments.
        :returns: stdout.
        :raises pooling_drivers.accelerators.errors.DriverUnavailableError: the tool failed.
        """
        try:
            result = self.seam.run([self.tool, *args])
        except errors.SeamError as exc:
            raise errors.DriverUnavailableError(str(exc)) from exc
        if result.rc != 0:
            raise errors.DriverUnavailableError(
                f'{self.tool} {" ".join(args)} exited {result.rc}: {result.stderr.strip()}')
        return result.stdout

    def rows(self) -> list[dict[str, str]]:
        """Run the inventory command and parse it.

        :returns: one dict per device.
        """
        return self.parse(self.run_tool(*self.inventory))

    @abc.abstractmethod
    def parse(self, output: str) -> list[dict[str, str]]:
        """Parse the inventory command's output into rows.

        :param output: the command's stdout.
        :returns: one dict per device.
        """

    @abc.abstractmethod
    def row_to_device(self, position: int, row: dict[str, str]) -> DeviceInfo:
        """Map one parsed row to a device.

        :param position: the row's position in the output.
        :param row: the parsed fields.
        :returns: the :class:`DeviceInfo`.
        """

    def discover(self) -> list[DeviceInfo]:
        devices = []
        for position, row in enumerate(self.rows()):
            try:
                devices.append(self.row_to_device(position, row))
            except (KeyError, ValueError) as exc:
                LOG.warning('%s: device row %s unreadable (%s): %r', self.tool, position, exc,
                            row)
        return devices

    def compute_units(self, model: str) -> int:
        """Return the compute units of a model from the option or the table, else 0.

        :param model: the model name.
        :returns: compute units.
        """
        if self.options.get('compute_units'):
            return to_int(self.options['compute_units'])
        for fragment, units in self.models:
            if fragment.lower() in model.lower():
                return units
        return 0

    def stable_uuid(self, reported: str, *identity: str) -> str:
        """Return the tool's uuid if it printed one, else a UUIDv5 of host and identity.

        :param reported: what the tool printed as uuid (may be empty or ``N/A``).
        :param identity: values that identify the device on this host (PCI address, serial).
        :returns: a plain UUID string.
        """
        match = _UUID_RE.search(reported or '')
        if match:
            return str(uuid_mod.UUID(match.group(0).replace('-', '')))
        try:
            machine = self.seam.read('/etc/machine-id').strip()
        except errors.SeamError:
            machine = self.options.get('host', '')
        return str(uuid_mod.uuid5(_NAMESPACE, '/'.join((self.vendor, machine) + identity)))

    def device(self, *, uuid: str, model: str, pci: str, memory_mb: int, index: int,
               numa: int | None = None, driver_version: str = '', healthy: bool = True,
               reason: str = '', isolation: tuple[str, ...] = ('none',),
               compute_units: int | None = None) -> DeviceInfo:
        """Build a :class:`DeviceInfo` with the vendor's nodes and the NUMA node from sysfs.

        :returns: the device.
        """
        if numa is None and pci:
            try:
                node = int(self.seam.read(f'/sys/bus/pci/devices/{pci}/numa_node').strip())
                numa = node if node >= 0 else None
            except (errors.SeamError, ValueError):
                numa = None
        return DeviceInfo(
            uuid=uuid, vendor=self.vendor, model=model, pci_address=pci, memory_mb=memory_mb,
            compute_units=(compute_units if compute_units is not None
                           else self.compute_units(model)),
            numa_node=numa, driver_version=driver_version, healthy=healthy,
            health_reason=reason, isolation=isolation, index=index,
            device_nodes=vendors.device_nodes(self.vendor, index))
