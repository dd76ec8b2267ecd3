"""Per-vendor facts shared by the drivers, the simulator and the isolation plugins.

Kept in one table so that a simulated Ascend NPU asks for the same device nodes and environment
variable as a real one.  Sources per row are in the comments; rows marked *unverified* come from
vendor container-toolkit documentation summaries and must be checked on real hardware.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class VendorFacts:
    """What a consumer of one device of a vendor needs."""

    #: Environment variable that selects the visible device(s) in a process or container.
    visible_env: str
    #: Per-device node, formatted with ``i`` (the vendor index).
    device_nodes: tuple[str, ...]
    #: Nodes every consumer of the vendor needs.
    shared_nodes: tuple[str, ...] = ()
    #: Whether the visible-devices variable takes the device uuid (else the index).
    visible_by_uuid: bool = False
    #: Native link between devices of this vendor (a :data:`types.LINK_KINDS` value).
    link_kind: str = 'pcie_hostbridge'


FACTS: dict[str, VendorFacts] = {
    # NVIDIA container toolkit and CUDA documentation.
    'nvidia': VendorFacts('CUDA_VISIBLE_DEVICES', ('/dev/nvidia{i}',),
                          ('/dev/nvidiactl', '/dev/nvidia-uvm', '/dev/nvidia-uvm-tools'),
                          visible_by_uuid=True, link_kind='nvlink'),
    # Ascend docker runtime: ASCEND_VISIBLE_DEVICES takes physical ids.
    'ascend': VendorFacts('ASCEND_VISIBLE_DEVICES', ('/dev/davinci{i}',),
                          ('/dev/davinci_manager', '/dev/devmm_svm', '/dev/hisi_hdc'),
                          link_kind='hccs'),
    # HAMi dcu-vgpu-device-plugin mounts /dev/kfd, /dev/mkfd, /dev/dri/card*; HIP selects.
    'hygon': VendorFacts('HIP_VISIBLE_DEVICES', ('/dev/dri/card{i}', '/dev/dri/renderD{r}'),
                         ('/dev/kfd', '/dev/mkfd'), link_kind='xgmi'),
    # Cambricon device plugin (unverified env name).
    'cambricon': VendorFacts('MLU_VISIBLE_DEVICES', ('/dev/cambricon_dev{i}',),
                             ('/dev/cambricon_ctl',), link_kind='mlulink'),
    # Iluvatar CoreX is CUDA-compatible (unverified node names).
    'iluvatar': VendorFacts('CUDA_VISIBLE_DEVICES', ('/dev/iluvatar{i}',)),
    # Moore Threads: name per TensorFusion's vendor table (unverified).
    'moorethreads': VendorFacts('MTHREADS_VISIBLE_DEVICES', ('/dev/dri/card{i}',
                                                             '/dev/dri/renderD{r}'),
                                ('/dev/mtgpu.{i}',), link_kind='mtlink'),
    # MetaX MACA (unverified).
    'metax': VendorFacts('MACA_VISIBLE_DEVICES', ('/dev/dri/card{i}', '/dev/dri/renderD{r}'),
                         ('/dev/mxcd',)),
    # Kunlunxin XRE (unverified).
    'kunlunxin': VendorFacts('XPU_VISIBLE_DEVICES', ('/dev/xpu{i}',), ('/dev/xpuctrl',),
                             link_kind='xlink'),
    # Enflame TopsRider (unverified).
    'enflame': VendorFacts('TOPS_VISIBLE_DEVICES', ('/dev/gcu{i}',), ('/dev/gcuctl',)),
}


def device_nodes(vendor: str, index: int) -> tuple[str, ...]:
    """Return the device nodes of one device (its own, then the vendor's shared ones).

    :param vendor: a key of :data:`FACTS`.
    :param index: the vendor's device index.
    :returns: absolute node paths; ``()`` for an unknown vendor.
    """
    facts = FACTS.get(vendor)
    if facts is None:
        return ()
    own = tuple(node.format(i=index, r=128 + index) for node in facts.device_nodes)
    shared = tuple(node.format(i=index) for node in facts.shared_nodes)
    return own + shared
