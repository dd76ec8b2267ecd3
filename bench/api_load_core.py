"""The load loop of the API benchmark: N clients claim and release, we time each call.

Kept apart from the service start-up so that it can be tested without any
server: a *target* is anything with ``claim(conn, client, seq)`` returning a
token and ``release(conn, token)``; the loop only measures.
"""

import dataclasses
import http.client
import json
import math
import threading
import time
import uuid


class CallFailed(Exception):
    """A claim or release answered with an unexpected status."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body[:600]}")
        self.status = status


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile of ``values`` (0 for an empty list)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclasses.dataclass
class LevelResult:
    """What one service did at one concurrency."""

    service: str
    concurrency: int
    duration_s: float
    claims: int = 0
    releases: int = 0
    errors: int = 0
    server_errors: int = 0
    claim_ms: list = dataclasses.field(default_factory=list)
    release_ms: list = dataclasses.field(default_factory=list)
    first_error: str | None = None
    error_statuses: dict = dataclasses.field(default_factory=dict)
    error_samples: dict = dataclasses.field(default_factory=dict)

    @property
    def claims_per_s(self) -> float:
        return self.claims / self.duration_s if self.duration_s else 0.0

    def summary(self) -> dict:
        return {
            "service": self.service,
            "concurrency": self.concurrency,
            "duration_s": round(self.duration_s, 3),
            "claims": self.claims,
            "releases": self.releases,
            "errors": self.errors,
            "server_errors": self.server_errors,
            "claims_per_s": round(self.claims_per_s, 1),
            "claim_p50_ms": round(percentile(self.claim_ms, 50), 2),
            "claim_p99_ms": round(percentile(self.claim_ms, 99), 2),
            "release_p50_ms": round(percentile(self.release_ms, 50), 2),
            "release_p99_ms": round(percentile(self.release_ms, 99), 2),
            "error_statuses": {str(k): v for k, v in sorted(self.error_statuses.items())},
            "first_error": self.first_error,
            "error_samples": self.error_samples,
        }


class HttpTarget:
    """Common HTTP plumbing: one keep-alive connection per client thread."""

    name = "http"

    def __init__(self, base_url: str, headers: dict) -> None:
        scheme, _, rest = base_url.partition("://")
        if scheme != "http":
            raise ValueError("only http:// on loopback is supported")
        hostport = rest.split("/", 1)[0]
        host, _, port = hostport.partition(":")
        if host not in ("127.0.0.1", "localhost"):
            # NOTE: the benchmark is loopback only; never load another machine.
            raise ValueError(f"refusing to load {host}: loopback (127.0.0.1) only")
        self.host, self.port = "127.0.0.1", int(port or 80)
        self.headers = headers

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=30)

    def call(self, conn, method: str, path: str, body=None, expect=(200,), headers=None):
        data = json.dumps(body).encode() if body is not None else None
        headers = {**self.headers, **(headers or {})}
        if data is not None:
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        payload = resp.read()
        if resp.status not in expect:
            raise CallFailed(resp.status, payload.decode("utf-8", "replace"))
        return json.loads(payload) if payload else None


class PoolingTarget(HttpTarget):
    """POST /v1/vgpus then DELETE /v1/vgpus/{uuid} on pooling-api (noauth)."""

    name = "pooling"

    def __init__(
        self, base_url: str, compute_percent: int = 25, memory_mb: int = 1024, projects: int = 1
    ):
        super().__init__(
            base_url,
            {"OpenStack-API-Version": "accelerator-pool 1.0"},
        )
        self.shape = {"compute_percent": compute_percent, "memory_mb": memory_mb}
        self.projects = max(1, projects)

    def claim(self, conn, client: int, seq: int) -> str:
        body = dict(self.shape, name=f"bench-{client}-{seq}")
        # NOTE: noauth takes the project from X-Project-Id (roles stay admin,
        # so the release needs no project of its own).
        project = {"X-Project-Id": f"bench-project-{client % self.projects}"}
        return self.call(conn, "POST", "/v1/vgpus", body, expect=(201,), headers=project)["uuid"]

    def release(self, conn, token: str) -> None:
        self.call(conn, "DELETE", "/v1/vgpus/" + token, expect=(202, 204))


class PlacementTarget(HttpTarget):
    """PUT /allocations/{consumer} then DELETE it on upstream Placement (noauth2)."""

    name = "placement"
    MICROVERSION = "1.39"

    def __init__(
        self,
        base_url: str,
        providers: list[str],
        resources: dict,
        project_id: str,
        user_id: str,
        projects: int = 1,
    ) -> None:
        super().__init__(
            base_url,
            {
                "X-Auth-Token": "admin",
                "OpenStack-API-Version": "placement " + self.MICROVERSION,
            },
        )
        self.providers = providers
        self.resources = resources
        self.project_id, self.user_id = project_id, user_id
        self.projects = max(1, projects)

    def claim(self, conn, client: int, seq: int) -> str:
        consumer = str(uuid.uuid4())
        # NOTE: Placement does not choose; the caller names the provider.
        # Spread clients over providers the way a scheduler would spread claims.
        rp = self.providers[(client + seq) % len(self.providers)]
        body = {
            "allocations": {rp: {"resources": self.resources}},
            "project_id": f"{self.project_id}-{client % self.projects}",
            "user_id": self.user_id,
            "consumer_generation": None,
            "consumer_type": "INSTANCE",
        }
        self.call(conn, "PUT", "/allocations/" + consumer, body, expect=(204,))
        return consumer

    def release(self, conn, token: str) -> None:
        self.call(conn, "DELETE", "/allocations/" + token, expect=(204,))


def _client_loop(
    target, client: int, stop: threading.Event, budget, result: LevelResult, lock: threading.Lock
) -> None:
    conn = target.connect()
    seq = 0
    try:
        while not stop.is_set() and budget.take():
            seq += 1
            for phase in ("claim", "release"):
                t0 = time.perf_counter()
                try:
                    if phase == "claim":
                        token = target.claim(conn, client, seq)
                    else:
                        target.release(conn, token)
                except (CallFailed, OSError, http.client.HTTPException, ValueError) as exc:
                    with lock:
                        result.errors += 1
                        status = exc.status if isinstance(exc, CallFailed) else "io"
                        key = f"{phase} {status}"
                        result.error_statuses[key] = result.error_statuses.get(key, 0) + 1
                        result.error_samples.setdefault(key, str(exc)[:600])
                        if isinstance(exc, CallFailed) and exc.status >= 500:
                            result.server_errors += 1
                        result.first_error = result.first_error or f"{phase}: {exc}"
                    conn.close()
                    conn = target.connect()
                    break
                ms = (time.perf_counter() - t0) * 1000.0
                with lock:
                    if phase == "claim":
                        result.claims += 1
                        result.claim_ms.append(ms)
                    else:
                        result.releases += 1
                        result.release_ms.append(ms)
    finally:
        conn.close()


class Budget:
    """At most ``n`` cycles in all, shared by the clients of one level."""

    def __init__(self, n: int) -> None:
        self.left = n
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.left <= 0:
                return False
            self.left -= 1
            return True


def run_level(
    target, concurrency: int, duration_s: float, max_cycles: int, progress=None, tick_s: float = 1.0
) -> LevelResult:
    """Run ``concurrency`` clients for ``duration_s`` (or ``max_cycles``) and measure."""
    result = LevelResult(target.name, concurrency, 0.0)
    stop, lock, budget = threading.Event(), threading.Lock(), Budget(max_cycles)
    threads = [
        threading.Thread(
            target=_client_loop, args=(target, i, stop, budget, result, lock), daemon=True
        )
        for i in range(concurrency)
    ]
    start = time.perf_counter()
    for t in threads:
        t.start()
    deadline = start + duration_s
    last_tick = start
    while True:
        alive = [t for t in threads if t.is_alive()]
        if not alive:
            break
        now = time.perf_counter()
        if now >= deadline:
            stop.set()
        alive[0].join(timeout=0.1 if stop.is_set() else min(tick_s, deadline - now))
        now = time.perf_counter()
        if progress is not None and now - last_tick >= tick_s:
            last_tick = now
            with lock:
                progress(result, now - start)
    result.duration_s = time.perf_counter() - start
    return result
