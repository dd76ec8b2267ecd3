"""The API load harness without any server: fake targets, real loop and report."""

import json
import threading

import pytest

from bench import api_load
from bench import api_load_core as core


class FakeTarget:
    """Claims succeed at once; every ``fail_every``-th claim answers ``status``."""

    name = "fake"

    def __init__(self, fail_every=0, status=409):
        self.fail_every, self.status = fail_every, status
        self.count = 0
        self.released = []
        self.lock = threading.Lock()

    def connect(self):
        return type("Conn", (), {"close": lambda self: None})()

    def claim(self, conn, client, seq):
        with self.lock:
            self.count += 1
            n = self.count
        if self.fail_every and n % self.fail_every == 0:
            raise core.CallFailed(self.status, "nope")
        return f"{client}-{seq}"

    def release(self, conn, token):
        with self.lock:
            self.released.append(token)


def test_percentile_nearest_rank():
    values = list(range(1, 101))
    assert core.percentile(values, 50) == 50
    assert core.percentile(values, 99) == 99
    assert core.percentile(values, 100) == 100
    assert core.percentile([], 50) == 0.0
    assert core.percentile([7.0], 99) == 7.0


def test_run_level_stops_at_the_cycle_budget():
    target = FakeTarget()
    result = core.run_level(target, 4, duration_s=30, max_cycles=50)
    assert result.claims == 50 and result.releases == 50
    assert len(set(target.released)) == 50
    summary = result.summary()
    assert summary["errors"] == 0 and summary["concurrency"] == 4
    assert summary["claims_per_s"] > 0


def test_run_level_counts_errors_and_5xx():
    result = core.run_level(FakeTarget(fail_every=5, status=500), 2, 30, max_cycles=20)
    assert result.errors == 4 and result.server_errors == 4
    assert result.claims == 16
    assert result.first_error.startswith("claim: HTTP 500")


def test_run_level_stops_at_the_deadline_and_reports_progress():
    seen = []
    result = core.run_level(
        FakeTarget(),
        2,
        duration_s=0.3,
        max_cycles=10**9,
        progress=lambda r, t: seen.append(t),
        tick_s=0.1,
    )
    assert result.duration_s < 5
    assert seen


@pytest.mark.parametrize("url", ["http://10.0.0.1:6388", "http://example.org", "https://127.0.0.1"])
def test_targets_refuse_anything_but_loopback(url):
    with pytest.raises(ValueError):
        core.PoolingTarget(url)


def test_placement_target_body(monkeypatch):
    target = core.PlacementTarget("http://127.0.0.1:8778", ["rp1", "rp2"], {"X": 1}, "p", "u")
    sent = []
    monkeypatch.setattr(
        target, "call", lambda conn, m, path, body=None, expect=(): sent.append((m, path, body))
    )
    consumer = target.claim(None, client=1, seq=0)
    method, path, body = sent[0]
    assert (method, path) == ("PUT", "/allocations/" + consumer)
    assert body["allocations"] == {"rp2": {"resources": {"X": 1}}}
    assert body["consumer_generation"] is None
    assert target.headers["OpenStack-API-Version"] == "placement 1.39"


def test_pooling_target_body(monkeypatch):
    target = core.PoolingTarget("http://127.0.0.1:6388", compute_percent=25, memory_mb=512)
    sent = []

    def call(conn, method, path, body=None, expect=(), headers=None):
        sent.append((method, path, body, expect))
        target.last_headers = headers
        return {"uuid": "u1"}

    monkeypatch.setattr(target, "call", call)
    assert target.claim(None, 3, 4) == "u1"
    assert target.last_headers == {"X-Project-Id": "bench-project-0"}
    target.release(None, "u1")
    assert sent[0] == (
        "POST",
        "/v1/vgpus",
        {"compute_percent": 25, "memory_mb": 512, "name": "bench-3-4"},
        (201,),
    )
    assert sent[1][:2] == ("DELETE", "/v1/vgpus/u1")
    assert target.headers["OpenStack-API-Version"] == "accelerator-pool 1.0"


def _summary(service, c, rate, p99, errors=0):
    return {
        "service": service,
        "concurrency": c,
        "claims_per_s": rate,
        "claim_p99_ms": p99,
        "errors": errors,
    }


def test_verdict_checks_the_issue_targets():
    lines = api_load.verdict(
        [
            _summary("pooling", 1, 50, 5),
            _summary("pooling", 32, 250, 80),
            _summary("placement", 32, 200, 120),
        ]
    )
    assert all(line.startswith("PASS") for line in lines), lines
    lines = api_load.verdict(
        [_summary("pooling", 32, 150, 130, errors=2), _summary("placement", 32, 200, 120)]
    )
    assert [line.split()[0] for line in lines] == ["FAIL"] * 4


def test_parse_args_defaults():
    args = api_load.parse_args([])
    assert args.levels == [1, 8, 32]
    assert args.service_list == ["pooling", "placement"]
    assert args.workers == 2


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    from bench import api_load_plot

    rows = [
        dict(_summary(s, c, 10.0 * c, 2.0 * c), claim_p50_ms=c)
        for s in ("pooling", "placement")
        for c in (1, 8, 32)
    ]
    path = api_load_plot.plot(rows, tmp_path / "x.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    json.dumps(rows)


def test_cpu_per_claim_keeps_the_service_parts(tmp_path):
    from bench import api_load_services as services

    before = {"pooling-api": 1.0, "conductor": 0.5, "agents": 0.1, "mariadb": 2.0, "client": 0}
    after = {"pooling-api": 2.0, "conductor": 1.0, "agents": 0.2, "mariadb": 2.5, "client": 0.1}
    per = api_load._cpu_per_claim(before, after, 100, "pooling")
    assert per == {
        "pooling-api": 10.0,
        "conductor": 5.0,
        "agents": 1.0,
        "mariadb": 5.0,
        "client": 1.0,
    }
    sample = services.cpu_sample(services.Processes(tmp_path))
    assert {"mariadb", "client"} <= set(sample) and sample["client"] > 0


def test_cpu_ceiling_is_cores_over_cpu_per_claim():
    assert api_load.cpu_ceiling({"pooling-api": 8.0, "conductor": 2.0}, cores=2) == 200.0
    assert api_load.cpu_ceiling({}, cores=2) == 0.0


def test_machine_speed_is_the_best_of_its_repeats(monkeypatch):
    ticks = iter([0.0, 3.0, 10.0, 11.5, 20.0, 22.0])
    monkeypatch.setattr(api_load.time, "perf_counter", lambda: next(ticks))
    assert api_load.machine_speed(iterations=10, repeats=3) == 1.5
