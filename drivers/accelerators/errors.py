"""Typed errors raised by accelerator drivers and their loader.

The agent decides what to do from the type alone: an unavailable driver is skipped, an
unsupported call is reported as such, a capacity error fails one slice and not the agent.
"""

from __future__ import annotations


class DriverError(Exception):
    """Base of every error an accelerator driver raises on purpose."""


class UnknownDriverError(DriverError):
    """A configured driver name has no ``pooling.accelerators`` entry point."""


class DriverUnavailableError(DriverError):
    """The vendor library, tool or device nodes the driver needs are not on this host."""


class NotSupportedError(DriverError):
    """The driver or device cannot do this (e.g. partitions on a card without them)."""


class DeviceNotFoundError(DriverError):
    """No device with the given uuid is seen by this driver."""


class PartitionNotFoundError(DriverError):
    """No partition with the given uuid exists on the device."""


class InsufficientCapacityError(DriverError):
    """The device has no room for the partition asked for."""


class DeviceBusyError(DriverError):
    """The device or partition is in use and cannot be changed now."""


class SeamError(DriverError):
    """Reading from the machine failed (a command exited non-zero, a file is missing ...)."""
