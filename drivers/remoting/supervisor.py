"""Supervision of one backend process per lease: start, wait ready, restart with backoff, give up.

A backend is ready when a line of its output matches ``ready`` (LUPINE prints ``Server listening
on port N``; the sim server ``READY <address>``).  When it exits without being asked to, it is
restarted after ``backoff_initial * 2**(n-1)`` seconds (at most ``backoff_max``); after
``max_restarts`` failures in a row it is *degraded*: not restarted again, and ``on_degraded(lease,
reason)`` is called once so the agent can tell the conductor (which re-places the vGPU).  A run
that lasted ``stable_after`` seconds resets the count.

Backends run in sessions of their own, so they outlive an agent that crashes.  Each supervisor
keeps a pid file (pid and the kernel's start time, so a recycled pid is never killed); after a
restart the plugin calls :func:`kill_stale` before starting a lease again and :func:`reap` for
leases it no longer serves.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from collections.abc import Mapping
import logging
import os
import re
import signal
import subprocess
import threading
import time

from pooling_drivers.remoting import base

LOG = logging.getLogger(__name__)


class Supervisor:
    """Keeps one backend process of one lease running."""

    def __init__(self, lease_id: str, argv: list[str], env: Mapping[str, str], ready: str,
                 on_degraded: base.DegradedCallback | None = None, max_restarts: int = 5,
                 backoff_initial: float = 0.5, backoff_max: float = 30.0,
                 start_timeout: float = 15.0, stable_after: float = 60.0,
                 preexec: Callable[[], None] | None = None,
                 pidfile: str | None = None) -> None:
        self.lease_id = lease_id
        self.argv = list(argv)
        self.env = dict(env)
        self._ready = re.compile(ready)
        self.on_degraded = on_degraded
        self.max_restarts = max_restarts
        self.backoff_initial, self.backoff_max = backoff_initial, backoff_max
        self.start_timeout = start_timeout
        self.stable_after = stable_after
        self._preexec = preexec
        self.pidfile = pidfile
        self.proc: subprocess.Popen | None = None
        self.ready_match: re.Match | None = None
        self.state = base.STOPPED
        self.restarts = 0
        self.failures = 0
        self.detail = ''
        self.output: deque = deque(maxlen=20)
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._watcher: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        proc = self.proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def health(self) -> base.BackendHealth:
        return base.BackendHealth(self.lease_id, self.state, self.pid, self.restarts,
                                  self.detail)

    def start(self) -> re.Match:
        """Start the process and wait until it is ready.

        :returns: the match of the ready line. :raises BackendUnavailable: it did not get ready.
        """
        try:
            self._spawn()
        except base.BackendUnavailable:
            self.state = base.STOPPED
            raise
        self.state = base.RUNNING
        self._watcher = threading.Thread(target=self._watch, daemon=True,
                                         name=f'remoting-supervisor-{self.lease_id}')
        self._watcher.start()
        return self.ready_match

    def _spawn(self) -> None:
        self.output.clear()
        try:
            proc = subprocess.Popen(self.argv, env=self.env, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True, bufsize=1, start_new_session=True,
                                    preexec_fn=self._preexec)
        except OSError as exc:
            raise base.BackendUnavailable(f'cannot run {self.argv[0]}: {exc}') from exc
        ready = threading.Event()
        threading.Thread(target=self._drain, args=(proc, ready), daemon=True).start()
        if not ready.wait(self.start_timeout) or self.ready_match is None:
            self._kill(proc)
            tail = ' | '.join(self.output) or 'no output'
            raise base.BackendUnavailable(
                f'backend of lease {self.lease_id} did not get ready within '
                f'{self.start_timeout:.0f} s (exit {proc.poll()}): {tail}')
        with self._lock:
            self.proc = proc
        if self.pidfile:
            _write_pidfile(self.pidfile, proc.pid)

    def _drain(self, proc: subprocess.Popen, ready: threading.Event) -> None:
        self.ready_match = None
        for line in proc.stdout:
            line = line.rstrip()
            self.output.append(line)
            LOG.debug('backend %s: %s', self.lease_id, line)
            if not ready.is_set():
                match = self._ready.search(line)
                if match:
                    self.ready_match = match
                    ready.set()
        ready.set()  # EOF: the process is gone

    def _watch(self) -> None:
        while not self._stopping.is_set():
            proc = self.proc
            started = time.monotonic()
            code = proc.wait()
            if self._stopping.is_set():
                return
            if time.monotonic() - started >= self.stable_after:
                self.failures = 0
            self.failures += 1
            self.detail = (f'exited with {code} ({self.failures} failure(s) in a row): '
                           + ' | '.join(list(self.output)[-3:]))
            LOG.warning('Backend of lease %s %s', self.lease_id, self.detail)
            while self.failures <= self.max_restarts:
                self.state = base.RESTARTING
                delay = min(self.backoff_initial * 2 ** (self.failures - 1), self.backoff_max)
                if self._stopping.wait(delay):
                    return
                try:
                    self._spawn()
                except base.BackendUnavailable as exc:
                    self.failures += 1
                    self.detail = str(exc)
                    continue
                self.restarts += 1
                self.state = base.RUNNING
                break
            else:
                self.state = base.DEGRADED
                reason = (f'backend of lease {self.lease_id} failed {self.failures} times; '
                          f'not restarted: {self.detail}')
                LOG.error('%s', reason)
                if self.on_degraded is not None:
                    try:
                        self.on_degraded(self.lease_id, reason)
                    except Exception:  # the agent's callback must not kill the watcher
                        LOG.exception('on_degraded callback failed for lease %s', self.lease_id)
                return

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the process (SIGTERM, then SIGKILL) and the supervision; idempotent."""
        self._stopping.set()
        with self._lock:
            proc = self.proc
        if proc is not None:
            self._kill(proc, timeout)
        self.state = base.STOPPED
        if self.pidfile:
            try:
                os.unlink(self.pidfile)
            except FileNotFoundError:
                pass

    @staticmethod
    def _kill(proc: subprocess.Popen, timeout: float = 5.0) -> None:
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()


def _start_time(pid: int) -> str | None:
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _write_pidfile(path: str, pid: int) -> None:
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        f.write(f'{pid} {_start_time(pid)}\n')
    os.replace(tmp, path)


def kill_stale(pidfile: str, timeout: float = 5.0) -> bool:
    """Kill the process group a pid file names if that very process still runs; drop the file.

    :returns: whether a process was killed.
    """
    try:
        with open(pidfile) as f:
            pid_text, started = f.read().split()
        pid = int(pid_text)
    except (OSError, ValueError):
        return False
    killed = False
    if _start_time(pid) == started:
        try:
            os.killpg(pid, signal.SIGTERM)
            killed = True
            deadline = time.monotonic() + timeout
            while _start_time(pid) == started and time.monotonic() < deadline:
                time.sleep(0.05)
            if _start_time(pid) == started:
                os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        os.unlink(pidfile)
    except FileNotFoundError:
        pass
    return killed


def reap(run_dir: str, prefix: str, keep) -> list[str]:
    """Kill the backends of ``<run_dir>/<prefix>-<lease>.pid`` whose lease is not in ``keep``.

    :returns: the lease ids whose stale backend was killed.
    """
    reaped = []
    try:
        names = os.listdir(run_dir)
    except FileNotFoundError:
        return reaped
    for name in names:
        if name.startswith(prefix + '-') and name.endswith('.pid'):
            lease_id = name[len(prefix) + 1:-4]
            if lease_id not in keep and kill_stale(os.path.join(run_dir, name)):
                reaped.append(lease_id)
    return reaped
