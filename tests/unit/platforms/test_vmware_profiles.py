"""NVIDIA vGPU profile names as pool shapes (drivers/platforms/vmware/profiles.py)."""

import pytest

from pooling_drivers.platforms import base
from pooling_drivers.platforms.vmware import profiles

A100 = 40960
HOST = ['grid_a100-4c', 'grid_a100-8c', 'grid_a100-10c', 'grid_a100-20c', 'grid_a100-40c',
        'grid_a100-8q', 'grid_a100-3-20c', 'not-a-profile']


def test_parse_time_sliced_and_mig_backed():
    p = profiles.parse('grid_a100-4c', A100)
    assert (p.framebuffer_mb, p.compute_milli, p.max_instances, p.vgpu_class) == (
        4096, 100, 10, 'c')
    mig = profiles.parse('grid_a100-3-20c', A100)
    assert (mig.mig_slices, mig.compute_milli, mig.max_instances) == (3, 428, 2)
    assert profiles.parse('grid_a100-80c', A100) is None  # larger than the card
    assert profiles.parse('vmiop-foo', A100) is None


def test_choose_smallest_covering_and_say_the_others():
    choice = profiles.choose(150, 6000, HOST, A100, where='esx1')
    assert choice.profile.name == 'grid_a100-8c'
    assert choice.candidates == ('grid_a100-8c', 'grid_a100-10c', 'grid_a100-3-20c',
                                 'grid_a100-20c', 'grid_a100-40c')
    assert profiles.choose(100, 4096, HOST, A100, vgpu_class='q').profile.name == 'grid_a100-8q'


@pytest.mark.parametrize('wanted,match', [
    ('grid_a100-12c', 'is not offered'), ('not-a-profile', 'is not an NVIDIA vGPU profile'),
    ('grid_a100-4c', 'smaller than the slice')])
def test_an_explicit_profile_is_checked(wanted, match):
    with pytest.raises(base.InvalidRequestError, match=match):
        profiles.choose(200, 8192, HOST, A100, wanted=wanted, where='esx1')
    assert profiles.choose(200, 8192, HOST, A100, wanted='grid_a100-10c').profile.name == \
        'grid_a100-10c'


def test_partition_profiles_are_the_scheduler_shapes():
    shapes = profiles.partition_profiles(HOST, A100)
    assert [(s.name, s.compute_milli, s.memory_mb) for s in shapes] == [
        ('grid_a100-4c', 100, 4096), ('grid_a100-8c', 200, 8192), ('grid_a100-10c', 250, 10240),
        ('grid_a100-3-20c', 428, 20480), ('grid_a100-20c', 500, 20480),
        ('grid_a100-40c', 1000, 40960)]
