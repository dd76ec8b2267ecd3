"""Calls to many agents at once, each host with its own bound.

Every host gets its own futurist executor of ``[conductor]
agent_calls_per_host`` threads: a silent agent holds only its own calls (each
bounded by ``agent_timeout``), never those of other hosts, and never the
conductor's batch threads, which only submit. When a host's call ends, the
vGPUs that waited only on it are handed to ``on_done`` together, so what is
ready is finished at once and in one transaction (issue 13: one dead agent
froze the whole pool because hosts were called one after another).
"""

from __future__ import annotations

from collections.abc import Callable
import threading

import futurist
from oslo_log import log as logging
import oslo_messaging as messaging

LOG = logging.getLogger(__name__)

#: Outcome kinds of a host's answer for one vGPU.
OK, TIMEOUT, ERROR, DOWN = 'ok', 'timeout', 'error', 'down'


class Outcome:
    """What one host said about one vGPU: ``kind`` and the answer or the error text."""

    __slots__ = ('host', 'kind', 'answer', 'error')

    def __init__(self, host, kind, answer=None, error=''):
        self.host, self.kind, self.answer, self.error = host, kind, answer, error

    def __repr__(self):
        return 'Outcome(%s, %s, %r)' % (self.host, self.kind, self.error or self.answer)


class Fanout:
    """Per-host executors, the set of hosts known down, and batch completion."""

    def __init__(self, conf, agents):
        self.conf, self.agents = conf, agents
        self.down: set[str] = set()
        self._executors: dict[str, futurist.ThreadPoolExecutor] = {}
        self._lock = threading.Lock()

    def _executor(self, host: str) -> futurist.ThreadPoolExecutor:
        with self._lock:
            executor = self._executors.get(host)
            if executor is None:
                executor = futurist.ThreadPoolExecutor(
                    max_workers=self.conf.conductor.agent_calls_per_host)
                self._executors[host] = executor
            return executor

    def stop(self) -> None:
        with self._lock:
            executors, self._executors = list(self._executors.values()), {}
        for executor in executors:
            executor.shutdown(wait=False)

    def run(self, method: str, per_host: dict[str, dict], on_done: Callable[[dict], None],
            context) -> list:
        """Call ``method`` on each host with ``per_host[host]`` = ``{uuid: request primitive}``.

        ``on_done({uuid: {host: Outcome}})`` runs (on the host's executor
        thread) for the vGPUs whose every host answered, as soon as they did.
        Hosts in ``down`` answer DOWN at once, without a call. Returns the
        futures (tests wait on them).
        """
        waiting: dict[str, set[str]] = {}
        for host, requests in per_host.items():
            for uuid in requests:
                waiting.setdefault(uuid, set()).add(host)
        results: dict[str, dict[str, Outcome]] = {uuid: {} for uuid in waiting}
        lock = threading.Lock()

        def finish(host: str, outcomes: dict[str, Outcome]) -> None:
            ready = {}
            with lock:
                for uuid, outcome in outcomes.items():
                    results[uuid][host] = outcome
                    waiting[uuid].discard(host)
                    if not waiting[uuid]:
                        ready[uuid] = results.pop(uuid)
            if ready:
                try:
                    on_done(ready)
                except Exception:
                    # NOTE: the vGPUs stay transitional; the reconciler drives them again.
                    LOG.exception('Finishing %s of %d vGPU(s) failed', method, len(ready))

        def call(host: str, requests: dict) -> None:
            if host in self.down:
                finish(host, {u: Outcome(host, DOWN, error='host %s is down' % host)
                              for u in requests})
                return
            try:
                answers = getattr(self.agents, method)(context, host, list(requests.values()))
                outcomes = {}
                for uuid in requests:
                    answer = answers.get(uuid) or {'error': 'the agent gave no answer'}
                    outcomes[uuid] = (Outcome(host, ERROR, answer, answer['error'])
                                      if answer.get('error') else Outcome(host, OK, answer))
            except messaging.MessagingTimeout as err:
                outcomes = {u: Outcome(host, TIMEOUT, error=str(err) or 'no answer')
                            for u in requests}
            except Exception as err:
                outcomes = {u: Outcome(host, ERROR, error=str(err)) for u in requests}
            finish(host, outcomes)

        return [self._executor(host).submit(call, host, requests)
                for host, requests in per_host.items()]
