"""How pool profiles are named on the OpenStack side (Cyborg, Placement, Nova).

One pool profile ``p`` becomes the Cyborg device profile ``<prefix>p`` (only
``[a-zA-Z0-9-_]``, Cyborg's rule), the Placement resource class
``CUSTOM_POOL_P`` and the trait ``CUSTOM_POOL_PROFILE_P``; every deployable of
ours also carries ``CUSTOM_POOLING``. Device profiles require that trait, so a
group can never land on an RP that Nova or another Cyborg driver owns (device
profiles may not name ``OWNER_CYBORG``: only ``CUSTOM_`` traits are allowed).
"""

import re

POOLING_TRAIT = 'CUSTOM_POOLING'
# Before migration 0007 the vGPU a bound ARQ becomes was named after the ARQ,
# the name being the link back to it. It is now named after the Nova server
# and keeps the link in ``cyborg_arq``; a row from before is recognised, and
# linked, by this prefix (``arq_link``).
VGPU_PREFIX = 'cyborg-arq-'


def _upper(name: str) -> str:
    return re.sub(r'[^A-Z0-9_]', '_', name.upper())


def device_profile_name(prefix: str, profile: str) -> str:
    return prefix + re.sub(r'[^a-zA-Z0-9_-]', '_', profile)


def resource_class(profile: str) -> str:
    return 'CUSTOM_POOL_' + _upper(profile)


def traits(profile: str) -> list[str]:
    return [POOLING_TRAIT, 'CUSTOM_POOL_PROFILE_' + _upper(profile)]


def device_profile_groups(profile: str) -> list[dict]:
    """One group, one unit: Cyborg makes one ARQ per ``resources:`` unit."""
    return [{'resources:%s' % resource_class(profile): '1',
             'trait:%s' % POOLING_TRAIT: 'required'}]


# A vGPU the pool holds for Nova on one compute host and profile ([cyborg]
# held_slots_per_profile); a bind adopts it and renames it after its server.
HOLD_PREFIX = 'cyborg-hold-'


def hold_name(profile: str, host: str) -> str:
    return '%s%s@%s' % (HOLD_PREFIX, profile, host)


def vgpu_name(arq_uuid: str) -> str:
    """The name a vGPU of ``arq_uuid`` had before migration 0007."""
    return VGPU_PREFIX + arq_uuid


def arq_of(vgpu_name_: str) -> str | None:
    """The ARQ of a vGPU named as before migration 0007, else None."""
    if vgpu_name_ and vgpu_name_.startswith(VGPU_PREFIX):
        return vgpu_name_[len(VGPU_PREFIX):]
    return None


def arq_link(vgpu: dict) -> str | None:
    """The Cyborg ARQ a vGPU was made for: its ``cyborg_arq``, or the name of a Nova vGPU
    from before migration 0007."""
    if vgpu.get('cyborg_arq'):
        return vgpu['cyborg_arq']
    if (vgpu.get('consumer') or {}).get('platform') == 'nova':
        return arq_of(vgpu.get('name'))
    return None
