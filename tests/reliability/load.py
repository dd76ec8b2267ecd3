"""A bounded load: N clients, each creating vGPUs and deleting them, never holding more than K.

Every answer is recorded with its time, so a scenario can say how many
claims were served before, during and after a fault. Each client keeps one
HTTP connection and opens a new one after an error, as a real client would.
"""

import dataclasses
import http.client
import json
import threading
import time

SHAPE = {'compute_percent': 25, 'memory_mb': 8192}


@dataclasses.dataclass
class Answer:
    at: float
    op: str  # 'create' or 'delete'
    status: int  # 0: no answer (connection refused, reset, timed out)
    uuid: str | None


class Load:
    def __init__(self, port: int, clients: int = 8, hold: int = 2, think: float = 0.05):
        self.port, self.clients, self.hold, self.think = port, clients, hold, think
        self.answers: list[Answer] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = []
        self.created: set[str] = set()  # every uuid answered with 201
        self.live: list[list[str]] = [[] for _ in range(clients)]

    def _call(self, conn, method, path, body=None):
        headers = {'X-Project-Id': 'rel', 'X-Roles': 'admin,member,reader'}
        data = None
        if body is not None:
            data, headers['Content-Type'] = json.dumps(body).encode(), 'application/json'
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        payload = resp.read()
        return resp.status, payload

    def _record(self, op, status, uuid=None):
        with self._lock:
            self.answers.append(Answer(time.monotonic(), op, status, uuid))
            if op == 'create' and status == 201:
                self.created.add(uuid)

    def _client(self, i):
        conn = None
        live = self.live[i]
        while not self._stop.is_set():
            if conn is None:
                conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=15)
            try:
                if len(live) >= self.hold:
                    uuid = live[0]
                    status, _ = self._call(conn, 'DELETE', '/v1/vgpus/' + uuid)
                    self._record('delete', status, uuid)
                    if status in (202, 404):
                        live.pop(0)
                else:
                    status, payload = self._call(conn, 'POST', '/v1/vgpus', SHAPE)
                    uuid = json.loads(payload)['uuid'] if status == 201 else None
                    self._record('create', status, uuid)
                    if uuid:
                        live.append(uuid)
            except (OSError, http.client.HTTPException, ValueError):
                self._record('create' if len(live) < self.hold else 'delete', 0)
                conn.close()
                conn = None
                self._stop.wait(0.2)
            self._stop.wait(self.think)

    def start(self) -> 'Load':
        for i in range(self.clients):
            thread = threading.Thread(target=self._client, args=(i,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def leftovers(self) -> list[str]:
        return [u for live in self.live for u in live]

    def creates(self, start: float, end: float) -> tuple[int, int]:
        """(201s, attempts) of creates answered in [start, end)."""
        window = [a for a in self.answers if a.op == 'create' and start <= a.at < end]
        return len([a for a in window if a.status == 201]), len(window)

    def statuses(self, start: float, end: float) -> dict:
        """Create answers in [start, end) by HTTP status (0: no answer)."""
        out: dict[str, int] = {}
        for a in self.answers:
            if a.op == 'create' and start <= a.at < end:
                out[str(a.status)] = out.get(str(a.status), 0) + 1
        return out

    def first_success_after(self, t: float) -> float | None:
        times = [a.at for a in self.answers if a.op == 'create' and a.status == 201 and
                 a.at >= t]
        return min(times) - t if times else None
