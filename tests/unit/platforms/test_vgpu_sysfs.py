"""The kernel vGPU seam (drivers/platforms/libvirt/sysfs.py) against a fake tree."""

import pytest

from pooling_drivers.platforms import base
from pooling_drivers.platforms.libvirt import sysfs
from tests.unit.platforms import fake_kernel


@pytest.fixture
def kernel(tmp_path):
    fake_kernel.build(tmp_path)
    return fake_kernel.FakeKernel(str(tmp_path))


def test_framework_is_found_per_card(kernel):
    assert sysfs.framework(kernel, fake_kernel.MDEV_CARD).name == 'mdev'
    assert sysfs.framework(kernel, fake_kernel.VF_CARD).name == 'vgpu_type'
    with pytest.raises(base.InvalidRequestError, match='offers no vGPU types'):
        sysfs.framework(kernel, '0000:99:00.0')
    with pytest.raises(base.InvalidRequestError, match='unknown vGPU framework'):
        sysfs.framework(kernel, fake_kernel.MDEV_CARD, 'sriov')


def test_mdev_types_create_and_remove(kernel):
    mdev = sysfs.Mdev(kernel)
    types = {t.id: t for t in mdev.types(fake_kernel.MDEV_CARD)}
    assert types['nvidia-471'] == sysfs.VgpuType('nvidia-471', 'GRID A100-4C', 10)
    ident = '3b1ac4d5-6f7a-4b8c-9d0e-1f2a3b4c5d6e'
    created = mdev.create(fake_kernel.MDEV_CARD, 'nvidia-475', ident)
    assert kernel.mdevs() == [ident]
    assert mdev.create(fake_kernel.MDEV_CARD, 'nvidia-475', ident) == created  # kept
    with pytest.raises(base.PlatformError, match='ENOSPC'):  # the only 40C is taken
        mdev.create(fake_kernel.MDEV_CARD, 'nvidia-475', '4b1ac4d5-6f7a-4b8c-9d0e-1f2a3b4c5d6e')
    mdev.remove(created)
    mdev.remove(created)  # already gone
    assert kernel.mdevs() == []
    assert mdev.types(fake_kernel.MDEV_CARD)[2].available == 1


def test_vgpu_type_framework_takes_free_vfs_until_none_is_left(kernel):
    framework = sysfs.VgpuTypeFramework(kernel)
    assert [(t.id, t.name, t.available) for t in framework.types(fake_kernel.VF_CARD)] == [
        ('471', 'NVIDIA A100-4C', 2), ('472', 'NVIDIA A100-8C', 2), ('475', 'NVIDIA A100-40C', 2)]
    first = framework.create(fake_kernel.VF_CARD, '471', '')
    second = framework.create(fake_kernel.VF_CARD, '471', '')
    assert (first.ident, second.ident) == ('0000:42:00.4', '0000:42:00.5')
    with pytest.raises(base.PlatformError, match='no free virtual function'):
        framework.create(fake_kernel.VF_CARD, '471', '')
    framework.remove(first)
    assert framework.types(fake_kernel.VF_CARD)[0].available == 1


def test_nvidia_gpu_uuid_to_pci_address(kernel):
    assert sysfs.nvidia_bdf(kernel, fake_kernel.MDEV_GPU_UUID) == fake_kernel.MDEV_CARD
    assert sysfs.nvidia_bdf(kernel, fake_kernel.MDEV_GPU_UUID[4:].upper()) == fake_kernel.MDEV_CARD
    assert sysfs.nvidia_bdf(kernel, 'GPU-00000000-0000-0000-0000-000000000000') is None
