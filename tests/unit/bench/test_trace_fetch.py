"""The trace fetcher and the benchmark's behaviour without the trace (issue: a bare clone)."""

import os
import shutil

import pytest

from bench import packing
from bench import trace
from bench import trace_fetch

TINY = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "bench", "openb-tiny")
NAMES = ["openb_node_list_gpu_node.csv", "openb_pod_list_default.csv"]


def _url(path):
    return "file://" + os.path.abspath(path)


def test_fetch_from_file_url_checks_and_keeps(tmp_path):
    dest = tmp_path / "openb"
    paths = trace_fetch.fetch(NAMES, str(dest), _url(TINY), os.path.join(TINY, "SHA256SUMS"),
                              log=lambda _: None)
    assert [os.path.basename(p) for p in paths] == NAMES
    for name in NAMES:
        assert (dest / name).read_bytes() == open(os.path.join(TINY, name), "rb").read()


def test_corrupted_copy_is_refused_and_nothing_left(tmp_path):
    src = tmp_path / "mirror"
    shutil.copytree(TINY, src)
    with open(src / NAMES[1], "a") as f:
        f.write("evil-pod,1,1,1,1000,,LS,Running,0,0,0\n")
    dest = tmp_path / "openb"
    with pytest.raises(trace_fetch.ChecksumError, match="does not match the pinned"):
        trace_fetch.fetch(NAMES, str(dest), _url(src), os.path.join(TINY, "SHA256SUMS"),
                          log=lambda _: None)
    assert not (dest / NAMES[1]).exists()
    assert [p for p in os.listdir(dest) if p.startswith(".")] == []
    # the CLI says so and fails
    rc = trace_fetch.main([NAMES[1], "--dest", str(dest), "--base-url", _url(src),
                           "--manifest", os.path.join(TINY, "SHA256SUMS")])
    assert rc == 1


def test_manifest_pins_every_shared_variant():
    sums = trace_fetch.read_manifest()
    assert {"openb_node_list_gpu_node.csv", "openb_pod_list_default.csv",
            "openb_pod_list_gpuspec10.csv", "openb_pod_list_multigpu30.csv"} <= set(sums)
    assert all(len(d) == 64 for d in sums.values())
    assert trace_fetch.COMMIT in trace_fetch.BASE_URL


def test_unknown_name_refused(tmp_path):
    with pytest.raises(KeyError, match="not in the manifest"):
        trace_fetch.fetch(["nope.csv"], str(tmp_path), log=lambda _: None)


def test_benchmark_without_trace_says_how_to_get_it(tmp_path, capsys):
    rc = packing.main(["--nodes", str(tmp_path / "n.csv"), "--pods", str(tmp_path / "p.csv"),
                       "--quiet"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "python -m bench.trace_fetch" in err and "POOLING_TRACE_DIR" in err


def test_benchmark_runs_on_fetched_tiny_trace(tmp_path, capsys):
    dest = tmp_path / "openb"
    trace_fetch.fetch(NAMES, str(dest), _url(TINY), os.path.join(TINY, "SHA256SUMS"),
                      log=lambda _: None)
    rc = packing.main(["--nodes", str(dest / NAMES[0]), "--pods", str(dest / NAMES[1]),
                       "--policy", "default,fgd", "--seeds", "42", "--quiet"])
    assert rc == 0
    assert "summary: default" in capsys.readouterr().out


def test_trace_dir_env_wins(tmp_path, monkeypatch):
    monkeypatch.setattr(trace, "CANDIDATES", (str(tmp_path), "/nonexistent"))
    assert trace.trace_dir() == str(tmp_path)
    monkeypatch.setattr(trace, "CANDIDATES", ("", "/nonexistent/a", "/nonexistent/b"))
    assert trace.trace_dir() == "/nonexistent/a"
