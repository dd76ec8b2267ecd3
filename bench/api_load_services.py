"""Start the services the API benchmark loads: pooling-api and upstream Placement.

Both run on 127.0.0.1 with 2 worker processes against fresh databases on the
same MariaDB server, so the comparison is like for like. Every process is
started in its own session and stopped by its own process group at the end.
"""

import contextlib
import http.client
import json
import os
from pathlib import Path
import signal
import socket
import subprocess
import sys
import time
import uuid

import pymysql

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port free on the loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _admin(statement: str, host: str, port: int, user: str, password: str) -> None:
    conn = pymysql.connect(host=host, port=port, user=user, password=password)
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
    finally:
        conn.close()


def fresh_database(
    name: str,
    host: str = "127.0.0.1",
    port: int = 3306,
    user: str = "root",
    password: str = "",
    procs: "Processes | None" = None,
) -> str:
    """Create database ``name`` anew; return its SQLAlchemy URL.

    With ``procs``, the name gets a random suffix (several people share the
    MariaDB server, and may run this at the same time) and the database is
    dropped when ``procs`` stops.
    """
    if procs is not None:
        name = f"{name}_{uuid.uuid4().hex[:8]}"
        procs.cleanups.append(
            lambda: _admin(f"DROP DATABASE IF EXISTS `{name}`", host, port, user, password)
        )
    _admin(f"DROP DATABASE IF EXISTS `{name}`", host, port, user, password)
    _admin(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4", host, port, user, password)
    auth = user + (":" + password if password else "")
    return f"mysql+pymysql://{auth}@{host}:{port}/{name}?charset=utf8mb4"


class Processes:
    """The processes one run started; stopped together, each by its own group."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.procs: list[subprocess.Popen] = []
        self.cleanups: list = []

    def start(self, name: str, argv: list[str], env: dict | None = None) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the proc
        proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        proc.bench_name = name
        proc.bench_log = log
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
            proc.bench_log.close()
        self.procs.clear()
        while self.cleanups:
            with contextlib.suppress(Exception):
                self.cleanups.pop()()

    def groups(self) -> dict[int, str]:
        """Process group id -> what it is (pooling-api, conductor, agents, placement)."""
        out = {}
        for proc in self.procs:
            name = proc.bench_name
            if name.startswith("bench-"):
                name = "agents"
            elif name == "pooling-conductor":
                name = "conductor"
            out[proc.pid] = name
        return out

    def check_alive(self) -> None:
        for proc in self.procs:
            if proc.poll() is not None:
                log = (self.log_dir / f"{proc.bench_name}.log").read_text(errors="replace")
                raise RuntimeError(
                    f"{proc.bench_name} exited with {proc.returncode}:\n" + log[-3000:]
                )


def http_json(
    port: int, method: str, path: str, body=None, headers=None, expect=(200, 201, 202, 204)
):
    """One request to a loopback service; the decoded answer."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        hdrs = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        payload = resp.read()
        if resp.status not in expect:
            raise RuntimeError(f"{method} {path}: HTTP {resp.status} {payload[:300]!r}")
        return json.loads(payload) if payload else None
    finally:
        conn.close()


def wait_http(port: int, path: str, procs: Processes, timeout: float = 60.0, headers=None) -> None:
    """Wait until ``GET path`` answers below 500, or fail with the service's log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        procs.check_alive()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path, headers=headers or {})
            if conn.getresponse().status < 500:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"nothing answered on 127.0.0.1:{port}{path} in {timeout} s")


# -- upstream Placement ---------------------------------------------------------

PLACEMENT_HEADERS = {"X-Auth-Token": "admin", "OpenStack-API-Version": "placement 1.39"}


def start_placement(
    procs: Processes, venv: Path, work: Path, db_url: str, workers: int = 2, threads: int = 16
) -> int:
    """Run Placement (noauth2) under gunicorn on a free port; return the port."""
    etc = work / "placement-etc"
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "placement.conf").write_text(
        "[api]\nauth_strategy = noauth2\n"
        f"[placement_database]\nconnection = {db_url}\n"
        "[oslo_policy]\nenforce_scope = false\nenforce_new_defaults = false\n"
    )
    subprocess.run(
        [
            str(venv / "bin" / "placement-manage"),
            "--config-file",
            str(etc / "placement.conf"),
            "db",
            "sync",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    port = free_port()
    procs.start(
        "placement",
        [
            str(venv / "bin" / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--worker-class",
            "gthread",
            "--timeout",
            "60",
            "placement.wsgi.api:application",
        ],
        env={"OS_PLACEMENT_CONFIG_DIR": str(etc)},
    )
    wait_http(port, "/", procs)
    return port


def seed_placement(port: int, providers: int, inventory: dict) -> list[str]:
    """Create ``providers`` resource providers with the same inventory."""
    for rc in inventory:
        if rc.startswith("CUSTOM_"):
            http_json(port, "PUT", "/resource_classes/" + rc, headers=PLACEMENT_HEADERS)
    uuids = []
    for i in range(providers):
        rp = str(uuid.uuid4())
        http_json(
            port,
            "POST",
            "/resource_providers",
            {"name": f"bench-gpu-{i}", "uuid": rp},
            headers=PLACEMENT_HEADERS,
        )
        http_json(
            port,
            "PUT",
            f"/resource_providers/{rp}/inventories",
            {"resource_provider_generation": 0, "inventories": inventory},
            headers=PLACEMENT_HEADERS,
        )
        uuids.append(rp)
    return uuids


# -- pooling ---------------------------------------------------------------------


def _script(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


RABBIT_URL = os.environ.get("POOLING_TEST_RABBIT", "rabbit://guest:guest@127.0.0.1:5672/")


def rabbit_vhost(procs: Processes, base_url: str = RABBIT_URL) -> str:
    """A RabbitMQ vhost of our own (deleted at stop); the transport URL for it.

    NOTE: a control exchange of its own does not isolate a stack: the rabbit
    driver names topic queues after the topic alone ("pooling-conductor"), so
    two stacks on one vhost share queues and take each other's messages.
    """
    name = "pooling-bench-" + uuid.uuid4().hex[:10]
    ctl = ["rabbitmqctl", "-q"]
    try:
        subprocess.run([*ctl, "add_vhost", name], check=True, capture_output=True, timeout=120)
    except (OSError, subprocess.SubprocessError) as exc:
        # NOTE: without rabbitmqctl (a remote broker) fall back to the shared
        # vhost: fine for one run at a time, see the note above.
        print(f"rabbitmqctl unavailable ({exc}); using {base_url} as is", file=sys.stderr)
        return base_url
    user = base_url.split("://", 1)[1].split(":", 1)[0] or "guest"
    subprocess.run(
        [*ctl, "set_permissions", "-p", name, user, ".*", ".*", ".*"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    procs.cleanups.append(
        lambda: subprocess.run([*ctl, "delete_vhost", name], capture_output=True, timeout=120)
    )
    return base_url.rstrip("/") + "/" + name


def start_pooling(
    procs: Processes,
    work: Path,
    db_url: str,
    workers: int = 2,
    devices: int = 16,
    hosts: int = 2,
    transport_url: str | None = None,
    consumer_host: bool = False,
) -> int:
    """Run pooling-api (noauth), pooling-conductor and sim agents; return the API port.

    Real processes on real MariaDB and RabbitMQ, each with its own control
    exchange so that concurrent runs never see each other's messages.
    ``devices`` simulated A100 cards are spread over ``hosts`` agents.
    """
    work.mkdir(parents=True, exist_ok=True)
    transport_url = transport_url or rabbit_vhost(procs)
    port = free_port()
    exchange = "pooling-bench-" + uuid.uuid4().hex[:8]
    main_conf = work / "pooling.conf"
    main_conf.write_text(
        f"[DEFAULT]\ntransport_url = {transport_url}\ncontrol_exchange = {exchange}\n"
        f"[database]\nconnection = {db_url}\n"
        f"[api]\nhost = 127.0.0.1\nport = {port}\nworkers = {workers}\n"
        "auth_strategy = noauth\n"
        "[agent]\nreport_interval = 2\n"
        "[conductor]\nreconcile_interval = 5\n"
    )
    subprocess.run(
        [_script("pooling-manage"), "--config-file", str(main_conf), "db", "sync"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    procs.start(
        "pooling-conductor", [_script("pooling-conductor"), "--config-file", str(main_conf)]
    )
    names = []
    per_host = [devices // hosts + (1 if i < devices % hosts else 0) for i in range(hosts)]
    agents = [
        (f"bench-gpu-{i}", f"nvidia:A100-SXM4-80GB:81920:108:{n}", ["sim"])
        for i, n in enumerate(per_host)
        if n
    ]
    if consumer_host:
        agents.append(("bench-cpu-0", "", []))
    for name, sim, drivers in agents:
        agent_conf = work / f"{name}.conf"
        agent_conf.write_text(
            f"[agent]\nhost = {name}\nfabric = bench-fabric\n"
            f"sim_devices = {sim}\nenabled_drivers = {','.join(drivers)}\n"
        )
        procs.start(
            name,
            [
                _script("pooling-agent"),
                "--config-file",
                str(main_conf),
                "--config-file",
                str(agent_conf),
            ],
        )
        names.append(name)
    procs.start("pooling-api", [_script("pooling-api"), "--config-file", str(main_conf)])
    wait_http(port, "/", procs)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        procs.check_alive()
        hosts_up = http_json(port, "GET", "/v1/hosts")["hosts"]
        if len([h for h in hosts_up if h["state"] == "up"]) >= len(names):
            return port
        time.sleep(0.5)
    raise RuntimeError(f"pooling agents {names} did not report within 60 s")


@contextlib.contextmanager
def pooling_stack(work: Path, db_name: str | None = None, **kwargs):
    """A whole real pool (API, conductor, agents) on a fresh MariaDB database; yields its URL.

    For functional tests and ad-hoc runs; everything started is stopped and
    the database dropped on exit.
    """
    name = db_name or "pooling_stack_" + uuid.uuid4().hex[:10]
    db_url = fresh_database(name)
    procs = Processes(work / "logs")
    try:
        port = start_pooling(procs, work, db_url, **kwargs)
        yield f"http://127.0.0.1:{port}"
    finally:
        procs.stop()
        conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="")
        try:
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        finally:
            conn.close()


_DB_NAMES = ("mariadbd", "mysqld")


def cpu_sample(procs: Processes) -> dict[str, float]:
    """CPU seconds used so far by each of our services, MariaDB, RabbitMQ and this client.

    Read from /proc (user + system time of every process in each group); the
    MariaDB and RabbitMQ servers are shared, so their figures include whatever
    else they served (Placement uses no RabbitMQ).
    """
    groups = procs.groups()
    clk = os.sysconf("SC_CLK_TCK")
    totals = {name: 0.0 for name in set(groups.values())}
    totals["mariadb"] = 0.0
    totals["rabbitmq"] = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        # After the command: state, ppid, pgrp, ... utime (11), stime (12).
        name = groups.get(int(fields[2]))
        if name is None and comm in _DB_NAMES:
            name = "mariadb"
        elif name is None and comm == "beam.smp":
            name = "rabbitmq"
        if name is not None:
            totals[name] += (int(fields[11]) + int(fields[12])) / clk
    mine = os.times()
    totals["client"] = mine.user + mine.system
    return totals
