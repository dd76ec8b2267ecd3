"""A whole pool as real processes: pooling-api (gunicorn), pooling-conductor, agents.

Every process runs in its own session so it can be killed with -9 alone and
started again with the same configuration, as a crash and a restart by the
init system would.
"""

import contextlib
import os
from pathlib import Path
import signal
import subprocess
import time
import uuid

from bench import api_load_services as bench

CARDS_PER_HOST = 4
HOSTS = 3
CONDUCTORS = ('pooling-conductor', 'pooling-conductor-2')
#: What the suite runs with ([agent] report_interval, the rest [conductor]).
SETTINGS = {'report_interval': 1, 'reconcile_interval': 2, 'host_down_after': 5,
            'stuck_after': 10, 'agent_timeout': 5, 'heartbeat_interval': 2,
            'takeover_after': 6}


class Pool:
    def __init__(self, work: Path, db_url: str, transport_url: str):
        self.work = work
        self.logs = work / 'logs'
        self.logs.mkdir(parents=True, exist_ok=True)
        self.port = bench.free_port()
        self.conf = work / 'pooling.conf'
        # NOTE: the conductor's own takeover settings are the defaults
        # (heartbeat_interval 2, takeover_after 6, written out so that a change
        # of default shows here). Shortened, so that a scenario fits in seconds
        # and the suite in CI's time (doc/source/admin/reliability.md gives what
        # the defaults give): agents report every second (default 10), a host
        # is down after 5 s without one (60), agent calls time out after 5 s
        # (30), the reconciler runs every 2 s (15) and re-drives work stuck for
        # 10 s (30). oslo.db and oslo.messaging reconnect every 1-2 s.
        self.conf.write_text(
            '[DEFAULT]\ntransport_url = %s\ncontrol_exchange = pooling-rel-%s\n'
            '[database]\nconnection = %s\nmax_retries = -1\nretry_interval = 1\n'
            '[api]\nhost = 127.0.0.1\nport = %d\nworkers = 2\nauth_strategy = noauth\n'
            '[agent]\nreport_interval = %d\n'
            '[conductor]\nreconcile_interval = %d\nhost_down_after = %d\nstuck_after = %d\n'
            'agent_timeout = %d\nheartbeat_interval = %d\ntakeover_after = %d\n'
            '[oslo_messaging_rabbit]\nrabbit_retry_interval = 1\nrabbit_retry_backoff = 1\n'
            'rabbit_interval_max = 2\n'
            % (transport_url, uuid.uuid4().hex[:8], db_url, self.port, SETTINGS['report_interval'],
               SETTINGS['reconcile_interval'], SETTINGS['host_down_after'],
               SETTINGS['stuck_after'], SETTINGS['agent_timeout'],
               SETTINGS['heartbeat_interval'], SETTINGS['takeover_after']))
        self.agents = ['rel-gpu-%d' % i for i in range(HOSTS)]
        self.procs: dict[str, subprocess.Popen] = {}

    def _argv(self, name: str) -> list[str]:
        if name == 'pooling-api':
            return [bench._script(name), '--config-file', str(self.conf)]
        if name in CONDUCTORS:  # several may run: each is named hostname:pid
            return [bench._script('pooling-conductor'), '--config-file', str(self.conf)]
        agent_conf = self.work / ('%s.conf' % name)
        if not agent_conf.exists():
            agent_conf.write_text(
                '[agent]\nhost = %s\nfabric = rel-fabric\nenabled_drivers = sim\n'
                'sim_devices = nvidia:A100-SXM4-80GB:81920:108:%d\n' % (name, CARDS_PER_HOST))
        return [bench._script('pooling-agent'), '--config-file', str(self.conf),
                '--config-file', str(agent_conf)]

    def start(self, name: str) -> None:
        log = open(self.logs / ('%s.log' % name), 'ab')  # noqa: SIM115 - kept with the proc
        self.procs[name] = subprocess.Popen(self._argv(name), stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self, name: str, sig=signal.SIGKILL) -> None:
        proc = self.procs[name]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        proc.wait(30)

    def api_workers(self) -> list[int]:
        out = subprocess.run(['pgrep', '-P', str(self.procs['pooling-api'].pid)],
                             capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    def start_all(self) -> 'Pool':
        subprocess.run([bench._script('pooling-manage'), '--config-file', str(self.conf), 'db',
                        'sync'], check=True, stdout=subprocess.DEVNULL)
        self.start('pooling-conductor')
        for name in self.agents:
            self.start(name)
        self.start('pooling-api')
        deadline = time.monotonic() + 90
        while True:
            try:
                hosts = bench.http_json(self.port, 'GET', '/v1/hosts')['hosts']
                if len([h for h in hosts if h['state'] == 'up']) == HOSTS:
                    return self
            except (OSError, RuntimeError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError('the pool did not come up; see %s' % self.logs)
            time.sleep(0.5)

    def host_state(self, name: str) -> str | None:
        try:
            return bench.http_json(self.port, 'GET', '/v1/hosts/' + name)['state']
        except (OSError, RuntimeError):
            return None

    def stop_one(self, name: str) -> None:
        """SIGTERM, as an init system stops a service (SIGKILL after 15 s)."""
        proc = self.procs.pop(name)
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)

    def stop(self) -> None:
        for name in list(self.procs):
            self.stop_one(name)
