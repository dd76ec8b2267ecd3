"""The Alibaba GPU trace v2023 ("openb") for the benchmarks: where the shared copy lives.

Reading the trace and building its arrivals is ``pooling.planner.openb`` (``pooling-manage
what-if`` replays openb files too); this module adds the default paths of the shared copy and
re-exports the rest under the names the benchmarks have always used.
"""

from __future__ import annotations

import os

from pooling.planner.openb import CARD_MEMORY_MB  # noqa: F401
from pooling.planner.openb import TUNE  # noqa: F401
from pooling.planner.openb import Node  # noqa: F401
from pooling.planner.openb import Pod  # noqa: F401
from pooling.planner.openb import TraceMissing  # noqa: F401
from pooling.planner.openb import arrival_stream  # noqa: F401
from pooling.planner.openb import build_model  # noqa: F401
from pooling.planner.openb import capacity_milli  # noqa: F401
from pooling.planner.openb import check_exists  # noqa: F401
from pooling.planner.openb import load_nodes  # noqa: F401
from pooling.planner.openb import load_pods  # noqa: F401
from pooling.planner.openb import node_order  # noqa: F401
from pooling.planner.openb import target_workload  # noqa: F401
from pooling.planner.openb import to_request  # noqa: F401

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(REPO, "..", "shared", "data", "alibaba-gpu-v2023", "csv")
DEFAULT_NODES = os.path.join(DATA, "openb_node_list_gpu_node.csv")
DEFAULT_PODS = os.path.join(DATA, "openb_pod_list_default.csv")
