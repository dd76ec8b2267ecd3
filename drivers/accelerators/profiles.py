"""Published partition tables, used where no library can be asked (the simulator, CLI drivers).

The real NVIDIA driver asks NVML for its MIG profiles; these tables are for devices we simulate
and for vendors whose tools list templates only by name.  Sources:

* MIG: NVIDIA's MIG user guide profile tables and NVIDIA/go-nvml ``pkg/nvml/mock/shared/gpus``
  (names, instance counts, placements).  Memory is the nominal size of the profile name, in MiB
  (NVML's ``memorySizeMB`` is slightly lower on real cards); SM counts are per the MIG user guide.
* Ascend vNPU: Project-HAMi/HAMi ``charts/hami/templates/scheduler/device-configmap.yaml``
  (memory MiB and AI cores per template), names cross-checked with Huawei's "虚拟化实例模板" table.
* Hygon vDCU: sizes are free (``dmiCreateVDevices(dev, n, cus[], mem[])``); the limit of 4 vDCUs
  per card is a simulator assumption, not a vendor figure.
"""

from __future__ import annotations

from pooling_drivers.accelerators.types import PartitionProfile

# (name, slices out of 7, memory MiB, SMs, max instances, placements)
_MigRow = tuple[str, int, int, int, int, tuple[int, ...]]

_P1 = (0, 1, 2, 3, 4, 5, 6)
_P2 = (0, 2, 4)
_P3 = (0, 4)
_P0 = (0,)

_MIG: dict[str, tuple[_MigRow, ...]] = {
    'A100-SXM4-40GB': (
        ('1g.5gb', 1, 5120, 14, 7, _P1), ('2g.10gb', 2, 10240, 28, 3, _P2),
        ('3g.20gb', 3, 20480, 42, 2, _P3), ('4g.20gb', 4, 20480, 56, 1, _P0),
        ('7g.40gb', 7, 40960, 98, 1, _P0)),
    'A100-SXM4-80GB': (
        ('1g.10gb', 1, 10240, 14, 7, _P1), ('2g.20gb', 2, 20480, 28, 3, _P2),
        ('3g.40gb', 3, 40960, 42, 2, _P3), ('4g.40gb', 4, 40960, 56, 1, _P0),
        ('7g.80gb', 7, 81920, 98, 1, _P0)),
    'H100-80GB': (
        ('1g.10gb', 1, 10240, 16, 7, _P1), ('1g.20gb', 1, 20480, 26, 4, _P1),
        ('2g.20gb', 2, 20480, 32, 3, _P2), ('3g.40gb', 3, 40960, 60, 2, _P3),
        ('4g.40gb', 4, 40960, 64, 1, _P0), ('7g.80gb', 7, 81920, 132, 1, _P0)),
    'H200-141GB': (
        ('1g.18gb', 1, 18432, 16, 7, _P1), ('1g.35gb', 1, 35840, 26, 4, _P1),
        ('2g.35gb', 2, 35840, 32, 3, _P2), ('3g.71gb', 3, 72704, 60, 2, _P3),
        ('4g.71gb', 4, 72704, 64, 1, _P0), ('7g.141gb', 7, 144384, 132, 1, _P0)),
}

# Model-name fragments (as NVML's nvmlDeviceGetName reports them) → MIG table.
_MIG_ALIASES: tuple[tuple[str, str], ...] = (
    ('A100-SXM4-40GB', 'A100-SXM4-40GB'), ('A100-PCIE-40GB', 'A100-SXM4-40GB'),
    ('A100-SXM4-80GB', 'A100-SXM4-80GB'), ('A100 80GB', 'A100-SXM4-80GB'),
    ('H100 80GB', 'H100-80GB'), ('H100-SXM5-80GB', 'H100-80GB'), ('H100-80GB', 'H100-80GB'),
    ('H200', 'H200-141GB'),
)

# (name, memory MiB, AI cores)
_VNPU: dict[str, tuple[tuple[str, int, int], ...]] = {
    'Ascend910A': (('vir02', 2184, 2), ('vir04', 4369, 4), ('vir08', 8738, 8),
                   ('vir16', 17476, 16)),
    'Ascend910B2': (('vir03_1c_8g', 8192, 3), ('vir06_1c_16g', 16384, 6),
                    ('vir12_3c_32g', 32768, 12)),
    'Ascend910B3': (('vir05_1c_16g', 16384, 5), ('vir10_3c_32g', 32768, 10)),
    'Ascend310P3': (('vir01', 3072, 1), ('vir02', 6144, 2), ('vir04', 12288, 4)),
}
_VNPU_ALIASES: tuple[tuple[str, str], ...] = (
    ('910B3', 'Ascend910B3'), ('910B2', 'Ascend910B2'), ('910B', 'Ascend910B3'),
    ('910A', 'Ascend910A'), ('310P', 'Ascend310P3'),
)

#: Most vDCUs the simulator lets one Hygon card carry (an assumption, see the module docstring).
HYGON_MAX_VDCU = 4


def mig_table(model: str) -> str | None:
    """Return the MIG table name for an NVIDIA model name, or ``None`` if it has no MIG.

    :param model: e.g. ``NVIDIA H200`` or ``A100-SXM4-80GB``.
    :returns: a key of the MIG tables, or ``None``.
    """
    for fragment, table in _MIG_ALIASES:
        if fragment.lower() in model.lower():
            return table
    return None


def mig_profiles(model: str) -> list[PartitionProfile]:
    """List the MIG GPU-instance profiles of an NVIDIA model, smallest first.

    :param model: the model name.
    :returns: the profiles; ``[]`` for a card without MIG.
    """
    table = mig_table(model)
    if table is None:
        return []
    return [PartitionProfile(name=name, profile_id=i, memory_mb=mem, compute_units=sms,
                             compute_milli=slices * 1000 // 7, max_instances=count,
                             placements=placements)
            for i, (name, slices, mem, sms, count, placements) in enumerate(_MIG[table])]


def mig_slices(profile_name: str) -> int:
    """Return how many of the 7 compute slices a MIG profile takes (``3g.40gb`` → 3).

    :param profile_name: a MIG profile name.
    :returns: the slice count.
    """
    return int(profile_name.split('g.', 1)[0])


def vnpu_profiles(model: str, card_cores: int) -> list[PartitionProfile]:
    """List the vNPU templates of an Ascend model, smallest first.

    :param model: e.g. ``Ascend910B3``.
    :param card_cores: AI cores of the whole chip, to express each template as a share.
    :returns: the templates; ``[]`` for a model without vNPU.
    """
    for fragment, key in _VNPU_ALIASES:
        if fragment.lower() in model.lower():
            return [PartitionProfile(name=name, profile_id=i, memory_mb=mem, compute_units=cores,
                                     compute_milli=cores * 1000 // max(card_cores, 1),
                                     max_instances=max(card_cores, 1) // cores)
                    for i, (name, mem, cores) in enumerate(_VNPU[key])]
    return []


def vdcu_profiles(memory_mb: int, compute_units: int) -> list[PartitionProfile]:
    """Return Hygon's one free-size vDCU profile for a card.

    :param memory_mb: the card's memory.
    :param compute_units: the card's CUs.
    :returns: a one-item list with a ``custom`` profile bounded by the card.
    """
    return [PartitionProfile(name='vdcu', profile_id=0, memory_mb=memory_mb,
                             compute_units=compute_units, compute_milli=1000,
                             max_instances=HYGON_MAX_VDCU, custom=True)]
