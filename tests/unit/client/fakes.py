"""Sample API resources and a runner for CLI commands without a shell.

The commands talk to a real :class:`poolingclient.v1.client.Client` whose HTTP
is answered by requests-mock, so each test checks the request that went out
and the table that came back.
"""

from unittest import mock

from keystoneauth1 import session

from poolingclient.v1 import client

ENDPOINT = "http://pool.test:6388"
V1 = ENDPOINT + "/v1"

POOL_UUID = "2f1c7f7e-8a36-4a31-9d53-5a1f3f2b0d11"
HOST_UUID = "5b7c6f9a-1e22-4b0d-8a6b-6f2a3b4c5d61"
DEVICE_UUID = "7d9e0f1a-2b3c-4d5e-8f70-8192a3b4c5d6"
PROFILE_UUID = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d"
VGPU_UUID = "c0ffee00-1234-4abc-8def-0123456789ab"
PROJECT = "6e1c6c4b2d8f4b0a9c3e5f7a9b1d3e5f"

POOL = {
    "uuid": POOL_UUID,
    "name": "site-a",
    "description": "first site",
    "host_count": 2,
    "device_count": 8,
    "created_at": "2026-11-28T10:00:00Z",
    "updated_at": None,
}

HOST = {
    "uuid": HOST_UUID,
    "name": "gpu-1",
    "pool": "site-a",
    "fabric": "ib0",
    "state": "up",
    "device_count": 4,
    "cpu_milli": 64000,
    "ram_mb": 524288,
    "last_heartbeat": "2026-11-28T10:01:00Z",
    "created_at": "2026-11-28T10:00:00Z",
    "updated_at": None,
}

DEVICE = {
    "uuid": DEVICE_UUID,
    "host": "gpu-1",
    "pool": "site-a",
    "vendor": "nvidia",
    "model": "A100-80G",
    "pci_address": "0000:3b:00.0",
    "memory_mb": 81920,
    "compute_units": 108,
    "numa_node": 0,
    "driver_version": "550.54",
    "health": "healthy",
    "health_reason": None,
    "isolation": ["hard", "soft"],
    "capacity": {"compute_percent": 100, "memory_mb": 81920},
    "used": {"compute_percent": 25, "memory_mb": 20480},
    "free": {"compute_percent": 75, "memory_mb": 61440},
}

PROFILE = {
    "uuid": PROFILE_UUID,
    "name": "quarter-16g",
    "compute_percent": 25,
    "memory_mb": 16384,
    "count": 1,
    "models": ["A100-80G"],
    "isolation": "soft",
    "locality": "remote-allowed",
    "description": None,
    "created_at": "2026-11-28T10:00:00Z",
    "updated_at": None,
}

VGPU = {
    "uuid": VGPU_UUID,
    "name": "train-1",
    "project_id": PROJECT,
    "user_id": "u1",
    "state": "SCHEDULED",
    "state_reason": None,
    "profile": None,
    "compute_percent": 50,
    "memory_mb": 40960,
    "count": 1,
    "models": [],
    "locality": "remote-allowed",
    "isolation": None,
    "consumer": None,
    "slices": [
        {
            "index": 0,
            "host": "gpu-1",
            "device_uuid": DEVICE_UUID,
            "compute_percent": 50,
            "memory_mb": 40960,
        }
    ],
    "attachment": None,
    "created_at": "2026-11-28T10:00:00Z",
    "updated_at": None,
}

USAGE = {
    "pool": "site-a",
    "model": "A100-80G",
    "devices": 8,
    "capacity": {"compute_percent": 800, "memory_mb": 655360},
    "allocated": {"compute_percent": 50, "memory_mb": 40960},
    "free": {"compute_percent": 750, "memory_mb": 614400},
    "stranded": {"compute_percent": 0, "memory_mb": 0},
}


def error(status: int, detail: str, code: str = "pooling.error") -> dict:
    """An API-SIG error body as the service sends it."""
    return {
        "errors": [
            {
                "status": status,
                "code": code,
                "title": "Error",
                "detail": detail,
                "request_id": "req-1",
            }
        ]
    }


def make_app(microversion: str = "1.0"):
    """A stand-in for the osc app whose client manager holds our real client."""
    app = mock.Mock()
    app.client_manager.accelerator_pool = client.Client(
        session.Session(), endpoint=ENDPOINT, microversion=microversion
    )
    return app


def run(cmd_class, argv: list[str], app=None):
    """Parse ``argv`` as the command would and return what take_action returns."""
    cmd = cmd_class(app or make_app(), None)
    parsed = cmd.get_parser("openstack test").parse_args(argv)
    return cmd.take_action(parsed)


def row_dict(columns, values) -> dict:
    """A ShowOne answer as a dict of machine-readable values."""
    out = {}
    for col, val in zip(columns, values):
        out[col] = val.machine_readable() if hasattr(val, "machine_readable") else val
    return out
