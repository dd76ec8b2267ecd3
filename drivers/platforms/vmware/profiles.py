"""NVIDIA vGPU profiles on ESXi, as pool shapes.

An ESXi host with NVIDIA vGPU lists its profiles in ``config.sharedPassthruGpuTypes``:
``grid_<board>-<framebuffer GiB><class>`` (``grid_a100-4c``) for time-sliced vGPUs and
``grid_<board>-<gpu slices>-<framebuffer GiB><class>`` (``grid_a100-3-20c``) for MIG-backed
ones. vSphere itself checks none of this against the card until power-on, and the vCenter
simulator checks nothing, so the pool does: a profile must be offered by the VM's host, be of
the configured class and cover the slice the pool booked.

Compute shares follow NVIDIA's fixed-share scheduler: a time-sliced profile gets the card's
compute in proportion to its framebuffer (4 GiB of a 40 GiB card = 100 milli-cards); a
MIG-backed one gets its GPU slices out of the card's seven.
"""

from __future__ import annotations

import dataclasses
import re

from pooling_drivers.accelerators.types import PartitionProfile
from pooling_drivers.platforms import base

_NAME = re.compile(r'^grid_(?P<board>[a-z0-9]+)-(?:(?P<slices>[1-7])-)?(?P<fb>\d+)(?P<cls>[a-z])$')
#: GPU slices of a MIG-capable card (A100, A30 report 7 or 4; 7 is the A100/H100 figure).
MIG_SLICES = 7


@dataclasses.dataclass(frozen=True)
class VgpuProfile:
    """One parsed vGPU profile on a card of ``card_memory_mb``."""

    name: str
    board: str
    framebuffer_mb: int
    vgpu_class: str
    mig_slices: int | None
    compute_milli: int
    max_instances: int

    def covers(self, compute_milli: int, memory_mb: int) -> bool:
        """True when a vGPU of this profile holds at least the given share."""
        return self.framebuffer_mb >= memory_mb and self.compute_milli >= compute_milli


def parse(name: str, card_memory_mb: int) -> VgpuProfile | None:
    """Parse a profile name for a card of ``card_memory_mb``; ``None`` when it is not one.

    :param name: e.g. ``grid_a100-4c``.
    :param card_memory_mb: the card's framebuffer (``graphicsInfo.memorySizeInKB`` / 1024).
    """
    found = _NAME.match(name or '')
    if not found or card_memory_mb <= 0:
        return None
    framebuffer = int(found['fb']) * 1024
    if framebuffer <= 0 or framebuffer > card_memory_mb:
        return None
    slices = int(found['slices']) if found['slices'] else None
    if slices is not None:
        compute, instances = slices * 1000 // MIG_SLICES, MIG_SLICES // slices
    else:
        compute = min(1000, round(1000 * framebuffer / card_memory_mb))
        instances = card_memory_mb // framebuffer
    return VgpuProfile(name, found['board'], framebuffer, found['cls'], slices, compute,
                       instances)


def offered(names, card_memory_mb: int, vgpu_class: str = '') -> list[VgpuProfile]:
    """The parseable profiles of a host for one card, smallest first, optionally one class."""
    parsed = (parse(n, card_memory_mb) for n in names or ())
    return sorted((p for p in parsed if p and (not vgpu_class or p.vgpu_class == vgpu_class)),
                  key=lambda p: (p.framebuffer_mb, p.compute_milli, p.name))


@dataclasses.dataclass(frozen=True)
class Choice:
    """The profile picked for a slice, and every profile that would also have covered it."""

    profile: VgpuProfile
    candidates: tuple[str, ...]


def choose(compute_milli: int, memory_mb: int, host_profiles, card_memory_mb: int, *,
           vgpu_class: str = 'c', wanted: str | None = None, where: str = '') -> Choice:
    """Pick the vGPU profile for a slice of ``compute_milli``/``memory_mb``.

    :param host_profiles: the host's ``sharedPassthruGpuTypes``.
    :param card_memory_mb: framebuffer of the slice's card.
    :param vgpu_class: only profiles of this class letter (``c`` compute, ``q`` workstation ...)
        when the profile is not named; empty for any.
    :param wanted: a profile name asked for explicitly (the vGPU's own profile, or the
        operator's ``profile_map``); it must be offered by the host and cover the slice.
    :param where: the host, for messages.
    :returns: a :class:`Choice`; the smallest covering profile when several do.
    :raises pooling_drivers.platforms.base.InvalidRequestError: no profile fits.
    """
    names = list(host_profiles or ())
    if wanted:
        if wanted not in names:
            raise base.InvalidRequestError(
                f'vGPU profile {wanted!r} is not offered by ESXi host {where}; it offers '
                f'{", ".join(names) or "none (no NVIDIA vGPU manager or not in Shared Direct)"}')
        profile = parse(wanted, card_memory_mb)
        if profile is None:
            raise base.InvalidRequestError(
                f'vGPU profile {wanted!r} on {where} is not an NVIDIA vGPU profile for a '
                f'{card_memory_mb} MiB card')
        if not profile.covers(compute_milli, memory_mb):
            raise base.InvalidRequestError(
                f'vGPU profile {wanted} ({profile.framebuffer_mb} MiB, {profile.compute_milli} '
                f'milli) is smaller than the slice ({memory_mb} MiB, {compute_milli} milli)')
        return Choice(profile, (wanted,))
    fits = [p for p in offered(names, card_memory_mb, vgpu_class)
            if p.covers(compute_milli, memory_mb)]
    if not fits:
        raise base.InvalidRequestError(
            f'no {vgpu_class or "any"}-class vGPU profile of ESXi host {where} covers '
            f'{memory_mb} MiB and {compute_milli / 10:g}% of a {card_memory_mb} MiB card; '
            f'it offers {", ".join(names) or "none"}')
    return Choice(fits[0], tuple(p.name for p in fits))


def partition_profiles(host_profiles, card_memory_mb: int, compute_units: int = 0,
                       vgpu_class: str = 'c') -> tuple[PartitionProfile, ...]:
    """The host's profiles as the pool's partition shapes (the scheduler snaps to these)."""
    return tuple(PartitionProfile(
        name=p.name, profile_id=i, memory_mb=p.framebuffer_mb,
        compute_units=compute_units * p.compute_milli // 1000, compute_milli=p.compute_milli,
        max_instances=p.max_instances)
        for i, p in enumerate(offered(host_profiles, card_memory_mb, vgpu_class)))
