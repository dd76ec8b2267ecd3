"""The Alibaba GPU trace v2023 ("openb") for the benchmarks: where the shared copy lives.

Reading the trace and building its arrivals is ``pooling.planner.openb`` (``pooling-manage
what-if`` replays openb files too); this module adds the default paths of the shared copy and
re-exports the rest under the names the benchmarks have always used.
"""

from __future__ import annotations

import os

from pooling.planner import openb
from pooling.planner.openb import CARD_MEMORY_MB  # noqa: F401
from pooling.planner.openb import TUNE  # noqa: F401
from pooling.planner.openb import Node  # noqa: F401
from pooling.planner.openb import Pod  # noqa: F401
from pooling.planner.openb import _int  # noqa: F401
from pooling.planner.openb import arrival_stream  # noqa: F401
from pooling.planner.openb import build_model  # noqa: F401
from pooling.planner.openb import capacity_milli  # noqa: F401
from pooling.planner.openb import island_links  # noqa: F401
from pooling.planner.openb import load_nodes  # noqa: F401
from pooling.planner.openb import load_pods  # noqa: F401
from pooling.planner.openb import node_order  # noqa: F401
from pooling.planner.openb import target_workload  # noqa: F401
from pooling.planner.openb import to_request  # noqa: F401

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: Folders that may hold the trace's CSVs, in order: ``$POOLING_TRACE_DIR`` and what
#: ``python -m bench.trace_fetch`` writes (``bench/data/openb``).
CANDIDATES = (
    os.environ.get("POOLING_TRACE_DIR", ""),
    os.path.join(REPO, "bench", "data", "openb"),
)
NODES_FILE = "openb_node_list_gpu_node.csv"
PODS_FILE = "openb_pod_list_default.csv"


class TraceMissing(openb.TraceMissing):
    """A trace file is not here; the message says how to get it."""


def trace_dir() -> str:
    """The first candidate folder that exists (``$POOLING_TRACE_DIR`` wins when set)."""
    for path in CANDIDATES:
        if path and os.path.isdir(path):
            return path
    return CANDIDATES[1]


def default_path(name: str) -> str:
    return os.path.join(trace_dir(), name)


DEFAULT_NODES = default_path(NODES_FILE)
DEFAULT_PODS = default_path(PODS_FILE)


def check_exists(*paths: str) -> None:
    """Raise :class:`TraceMissing` naming the command that fetches a missing file."""
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise TraceMissing(
            "trace file(s) not found: %s\n"
            "Get the Alibaba GPU trace v2023 with `python -m bench.trace_fetch` (downloads "
            "the CSVs from github.com/alibaba/clusterdata at a pinned commit into "
            "bench/data/openb and checks their SHA-256), or point POOLING_TRACE_DIR "
            "(or --nodes/--pods) at a folder that has them."
            % ", ".join(missing)
        )
