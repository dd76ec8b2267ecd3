"""Schemathesis over pooling_api/openapi.yaml against a real pooling-api on MariaDB.

The API must never answer 5xx, never send a response its own document does not
describe (status, content type, body schema), whatever the input. Each bug the
fuzzer found has a regression test below named after its BUG number; while a
bug is open its test is marked ``xfail(strict=True)`` and the fuzz run tolerates
exactly that failure (KNOWN_BUGS), failing on anything new. The bugs
bench/api_load.py found under concurrency (BUG-4, BUG-6) are pinned here too.
"""

import http.client
import json
import os
from pathlib import Path
import re
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET

import pytest
import yaml

from pooling_api.schemas import quotas

pytestmark = pytest.mark.functional

OPENAPI = Path(__file__).resolve().parents[2] / "pooling_api" / "openapi.yaml"
ST = str(Path(sys.executable).parent / "st")
CHECKS = ",".join(
    [
        "not_a_server_error",
        "response_schema_conformance",
        "content_type_conformance",
        "status_code_conformance",
    ]
)
MICROVERSION = {"OpenStack-API-Version": "accelerator-pool 1.0"}

# Failures the fuzzer finds today, each pinned by an xfail regression test below:
# (bug, operation regex, check codes that must all be in the failure, text regex).
# Empty: BUG-1..BUG-6 are fixed and their tests below now guard against a return.
KNOWN_BUGS: list[tuple[str, str, set, str]] = []


def _known(op: str, codes: set, text: str) -> str | None:
    for bug, op_re, need, text_re in KNOWN_BUGS:
        if re.search(op_re, op) and need <= codes and re.search(text_re, text):
            return bug
    return None


# NOTE: no --max-time: with it, st repeats fuzzing until the budget is spent.
def _schemathesis(url: str, out: Path, *extra: str) -> list[tuple[str, set, str]]:
    """Run ``st run`` and return its failures as (operation, check codes, text)."""
    junit = out / "junit.xml"
    argv = [
        ST,
        "run",
        str(OPENAPI),
        "--url",
        url,
        "--checks",
        CHECKS,
        "--phases",
        "examples,coverage,fuzzing",
        "--workers",
        "1",
        "--max-examples",
        os.environ.get("POOLING_FUZZ_EXAMPLES", "10"),
        "--seed",
        os.environ.get("POOLING_FUZZ_SEED", "20261128"),
        "--request-timeout",
        "20",
        "--report",
        "junit",
        "--report-junit-path",
        str(junit),
        *extra,
    ]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=420, cwd=out)
    if not junit.exists():
        raise AssertionError("schemathesis did not run:\n" + proc.stdout[-3000:] + proc.stderr)
    failures = []
    for case in ET.parse(junit).iter("testcase"):
        for node in case:
            if node.tag in ("failure", "error"):
                codes = set(re.findall(r"ST\d{3}", node.get("message") or ""))
                failures.append((case.get("name"), codes, node.text or ""))
    if proc.returncode not in (0, 1) or (proc.returncode == 1 and not failures):
        raise AssertionError("schemathesis failed to run:\n" + proc.stdout[-3000:])
    return failures


def _assert_only_known(failures):
    unknown = [
        f"{op} {sorted(codes)}:\n{text[:1500]}"
        for op, codes, text in failures
        if not _known(op, codes, text)
    ]
    assert not unknown, "new API bugs found by schemathesis:\n\n" + "\n\n".join(unknown)


@pytest.fixture(scope="module")
def existing(api_url):
    """Real resources to aim at, made before any fuzzing fills the pool."""
    device = _call(api_url, "GET", "/v1/devices")[1]["devices"][0]["uuid"]
    host = _call(api_url, "GET", "/v1/hosts")[1]["hosts"][0]["name"]
    _call(
        api_url, "POST", "/v1/profiles", {"name": "fuzz-p", "compute_percent": 10, "memory_mb": 512}
    )
    status, vgpu, _, payload = _call(api_url, "POST", "/v1/vgpus", {"profile": "fuzz-p"})
    assert status == 201, payload
    return {
        "/v1/devices/{ident}": device,
        "/v1/hosts/{ident}": host,
        "/v1/pools/{ident}": "default",
        "/v1/profiles/{ident}": "fuzz-p",
        "/v1/vgpus/{ident}": vgpu["uuid"],
        "/v1/quotas/{project_id}": "admin",
    }


def test_fuzz_whole_api(api_url, existing, tmp_path):
    """Every operation, random input: no 5xx, and every answer as documented."""
    _assert_only_known(_schemathesis(api_url, tmp_path))


def test_fuzz_existing_resources(api_url, existing, tmp_path):
    """Operations on resources that exist (real names and UUIDs), not only 404 paths."""
    # NOTE: st reads schemathesis.toml from its working directory (tmp_path).
    (tmp_path / "schemathesis.toml").write_text(
        "".join(
            f'[[operations]]\ninclude-path = "{path}"\n'
            f'parameters = {{ {"project_id" if "quotas" in path else "ident"} = "{value}" }}\n\n'
            for path, value in existing.items()
        )
    )
    failures = _schemathesis(api_url, tmp_path, "--include-path-regex", r"\{(ident|project_id)\}")
    _assert_only_known(failures)


# -- regression tests for the bugs the fuzzer found ---------------------------------
#
# BUG-1  Accept: application/json answered 406 by pecan (fixed in 421bcf0)
# BUG-2  a multipart Content-Type without boundary: 500 HTML page (fixed in 717c41a)
# BUG-3  PUT quota compute_percent 2147483646 overflows the column: 500 (717c41a)
# BUG-4  concurrent claim + release on MariaDB: DBDeadlock, 500 (717c41a)
# BUG-5  a body or query string that is not UTF-8: text/html 400 (717c41a)
# BUG-7  openapi.yaml: GET /v1/slots says ?host= is optional; the service requires it (fixed)
# BUG-8  openapi.yaml: {project_id} of /v1/quotas allows 255 of anything; the service takes
#        1-64 of [A-Za-z0-9_-] (fixed)
# (BUG-7/8 are what st's positive_data_acceptance check reports: schema-valid requests
# rejected. It also reports two rules no schema states: a vGPU or profile of several cards
# needs compute_percent 100, and locality local/remote-required needs consumer.host.)
# BUG-6  capacity to spare, yet 409 "the pool changed under 5 attempts" (717c41a made
#        it rarer, 0f110fc fixed it: 0 of 560 claims at 8/16/32 clients)


def _call(url, method, path, body=None, headers=None, raw=None):
    port = int(url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    hdrs = {**MICROVERSION, **(headers or {})}
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    try:
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        payload = resp.read()
        ctype = resp.getheader("Content-Type", "")
        parsed = json.loads(payload) if payload and ctype.startswith("application/json") else None
        return resp.status, parsed, ctype, payload
    finally:
        conn.close()


def _api_sig(status, parsed, ctype):
    assert ctype.startswith("application/json"), ctype
    assert parsed["errors"][0]["status"] == status
    assert parsed["errors"][0]["detail"]


def test_bug1_accept_application_json(api_url):
    status, parsed, ctype, _ = _call(
        api_url, "GET", "/v1/pools", headers={"Accept": "application/json"}
    )
    assert status == 200, (status, parsed)
    assert "pools" in parsed


@pytest.mark.parametrize("method,path", [("POST", "/v1/pools"), ("DELETE", "/v1/vgpus/x")])
def test_bug2_multipart_without_boundary(api_url, method, path):
    status, parsed, ctype, payload = _call(
        api_url, method, path, raw=b'{"name": "m"}', headers={"Content-Type": "multipart/form-data"}
    )
    assert status in (400, 404, 415), (status, payload[:200])
    _api_sig(status, parsed, ctype)


def test_bug3_quota_out_of_range(api_url):
    status, parsed, ctype, payload = _call(
        api_url,
        "PUT",
        "/v1/quotas/fuzz-project",
        {"quota": {"compute_percent": 2147483646, "memory_mb": 0, "vgpus": 0}},
    )
    assert status in (200, 400), (status, payload[:300])


@pytest.mark.parametrize(
    "method,path,raw",
    [
        ("POST", "/v1/pools", b"\x13\x38\xff\xfe"),
        ("GET", "/v1/hosts?fabric=%C3%28", None),
    ],
)
def test_bug5_non_utf8_input_gets_json_error(api_url, method, path, raw):
    headers = {"Content-Type": "application/json"} if raw else {}
    status, parsed, ctype, payload = _call(api_url, method, path, raw=raw, headers=headers)
    assert status == 400
    _api_sig(status, parsed, ctype)


def _claim_release_race(api_url, threads=8, rounds=12):
    """Clients that claim a small vGPU and release it at once; every claim's answer."""
    answers, lock = [], threading.Lock()

    def worker(n):
        for i in range(rounds):
            status, parsed, _, _ = _call(
                api_url,
                "POST",
                "/v1/vgpus",
                {"name": f"race-{n}-{i}", "compute_percent": 2, "memory_mb": 64},
            )
            with lock:
                answers.append((status, parsed))
            if status == 201:
                _call(api_url, "DELETE", "/v1/vgpus/" + parsed["uuid"])

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    return answers


@pytest.fixture(scope="module")
def race(api_url):
    return _claim_release_race(api_url)


# NOTE: BUG-4 and BUG-6 were found by bench/api_load.py and depend on timing:
# an xfail for such a bug must not be strict (a lucky run passes).
def test_bug4_concurrent_claims_never_500(race):
    assert not [a for a in race if a[0] >= 500], race


def test_bug6_no_false_no_capacity_under_concurrency(race):
    # 4 cards at 2 % each: 200 slots for at most 8 vGPUs held at a time (plus releases).
    false_409 = [a for a in race if a[0] == 409 and "pool changed" in json.dumps(a[1])]
    assert not false_409, f"{len(false_409)} of {len(race)} claims: {false_409[:2]}"


def _openapi_param(path, method, name):
    doc = yaml.safe_load(OPENAPI.read_text())
    params = doc["paths"][path][method].get("parameters", [])
    return next(p for p in params if p["name"] == name)


def test_bug7_openapi_slots_host_is_required():
    assert _openapi_param("/v1/slots", "get", "host")["required"] is True


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_bug8_openapi_quota_project_id_matches_the_service(method):
    schema = _openapi_param("/v1/quotas/{project_id}", method, "project_id")["schema"]
    for key in ("maxLength", "pattern"):
        assert schema.get(key) == quotas.PROJECT_ID[key], (key, schema)
