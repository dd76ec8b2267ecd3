"""The claim path: decide on the in-memory pool model, commit with compare-and-swap.

Each API worker keeps one PoolModel (pooling.scheduler) loaded from the DB, so a
decision does no DB reads. The model can be stale (another worker claimed or a
conductor released), which is safe: the claim's UPDATE names the generation it
decided on, a lost race raises GenerationConflict and we reload and decide again.
A NoValidHost on a model older than this claim is retried once on a fresh model,
so capacity freed elsewhere is never refused.

A consumer of a platform that discovered hosts of the pool (a vSphere VM, whose
consumer host is its vCenter) is first located (pooling.locate): the host it
runs on now becomes the scheduler's consumer host and is recorded on the vGPU
(``attachment.consumer_location``).
"""

import dataclasses
import random
import threading
import time

from oslo_log import log as logging

from pooling import exception
from pooling import metrics
from pooling import scheduler
from pooling.db import api as db_api
from pooling.objects import device as device_obj
from pooling.objects import host as host_obj
from pooling.objects import profile as profile_obj
from pooling.objects import vgpu as vgpu_obj

LOG = logging.getLogger(__name__)


@db_api.reader
def load_model(context) -> 'scheduler.PoolModel':
    """Build the scheduler's model of every host and device from the DB.

    The model also gets ``partition_shapes``: card model → the shapes a hard
    (MIG / vNPU) slice can take on it, for ``snap``.
    """
    model = scheduler.PoolModel()
    model.partition_shapes = {}
    platforms = host_obj.platforms(context)
    for host in host_obj.list_hosts(context):
        model.add_host(host['name'], pool=host['pool'], fabric=host['fabric'],
                       cpu_milli=host['cpu_milli'], ram_mb=host['ram_mb'],
                       up=host['state'] == 'up', platform=platforms.get(host['name']))
    numa: dict[str, list] = {}
    for dev in device_obj.list_devices(context):
        _upsert(model, dev)
        model.partition_shapes.setdefault(dev['model'], set()).update(dev['partition_shapes'])
        numa.setdefault(dev['host'], []).append((dev['uuid'], dev.get('numa_node')))
    # NOTE: the links the agents reported (NVLink islands, PCIe switches) and the cards' NUMA
    # nodes: multi-card vGPUs then get cards that share the best link (and may demand one).
    links = host_obj.topology(context)
    for host, pairs in numa.items():
        if host in links or any(node is not None for _, node in pairs):
            model.set_topology(host, [tuple(link) for link in links.get(host, ())], pairs)
    return model


def snap(request, partition_shapes: dict) -> list:
    """The requests to try for ``request``: hard ones snapped to partition shapes.

    A hard slice is a MIG GPU instance or a vNPU, which come in fixed shapes
    per card model. For each allowed model that has a shape holding the
    request, the smallest such shape is one candidate (restricted to the
    models sharing it); candidates are tried smallest first. Anything else,
    or a hard request nothing can hold, is tried as it is (the isolation
    filter then says why it does not fit).
    """
    if request.isolation != 'hard' or request.count > 1:
        return [request]
    options: dict[tuple, set] = {}
    for model_name, shapes in partition_shapes.items():
        if request.models and model_name not in request.models:
            continue
        fits = [shape for shape in shapes
                if shape[0] >= request.compute_milli and shape[1] >= request.memory_mb]
        if fits:
            options.setdefault(min(fits), set()).add(model_name)
    snapped = [dataclasses.replace(request, compute_milli=compute, memory_mb=memory,
                                   models=frozenset(names))
               for (compute, memory), names in sorted(options.items())]
    return snapped or [request]


def _upsert(model, dev: dict) -> None:
    model.upsert_device(dev['uuid'], dev['host'], dev['vendor'], dev['model'],
                        compute_total=dev['compute_total'], memory_mb=dev['memory_mb'],
                        compute_used=dev['compute_used'], memory_used=dev['memory_used'],
                        healthy=dev['health'] == 'healthy',
                        isolation=frozenset(dev['isolation']),
                        generation=dev['generation'])


def to_request(spec: dict) -> 'scheduler.Request':
    """The scheduler's request for a validated spec.

    The consumer host is where the consumer runs now when it was located
    (``consumer_location``: a VM's ESXi host), else the consumer's own host.
    """
    consumer = spec.get('consumer') or {}
    return scheduler.Request(
        compute_milli=spec['compute_milli'], memory_mb=spec['memory_mb'],
        count=spec.get('count', 1),
        models=frozenset(spec['models']) if spec.get('models') else None,
        isolation=spec.get('isolation'), locality=spec['locality'], link=spec.get('link'),
        consumer_host=spec.get('consumer_location') or consumer.get('host'),
        pool=spec.get('pool'))


class ClaimService:
    """One per API process: the model, the policy and the claim loop."""

    def __init__(self, conf, locator=None):
        """:param locator: a ``pooling.locate.ConsumerLocator`` (the API's); without one,
        consumers are placed against their own host (Nova's vGPUs from the Cyborg sync)."""
        self.conf = conf
        self.locator = locator
        self._lock = threading.Lock()
        self._model = None
        self._scheduler = None
        self._loaded_at = 0.0

    def _reload(self, context):
        self._model = load_model(context)
        self._scheduler = scheduler.Scheduler(self._model, policy=self.conf.scheduler.policy)
        self._loaded_at = time.monotonic()
        self._observe_history(context)

    def _observe_history(self, context):
        # NOTE: fragmentation-aware policies weigh placements by the shapes
        # they expect (FGD's "target workload"). Here that is what tenants
        # asked for so far (kept in the DB, so it survives restarts) plus the
        # operator's published profiles, which count even before first use.
        counts = {}
        for compute, memory, count, n in vgpu_obj.shapes_requested(context, limit=50,
                                                                   with_counts=True):
            counts[(compute, memory, count)] = n
        floor = max(1.0, 0.05 * sum(counts.values()))
        for p in profile_obj.list_profiles(context):
            key = (p['compute_milli'], p['memory_mb'], p['count'])
            counts[key] = max(counts.get(key, 0), floor)
        if counts:
            self._model.set_target_workload([
                (scheduler.Request(compute_milli=c, memory_mb=m, count=n), weight)
                for (c, m, n), weight in counts.items()])

    def _refresh_device(self, context, uuid):
        try:
            _upsert(self._model, device_obj.get_device(context, uuid))
        except exception.NotFound:
            self._model.remove_device(uuid)

    def _decide(self, context, request, started):
        """Pick a placement and reserve it in the model (under the lock).

        Returns (model, placement); the model is returned so that a failed
        commit un-reserves in the model it reserved in, even after a reload.
        """
        interval = self.conf.scheduler.model_refresh_interval
        with self._lock:
            if self._model is None or time.monotonic() - self._loaded_at > interval:
                self._reload(context)
            try:
                chosen, placement = self._select(request)
            except scheduler.NoValidHost as err:
                if self._loaded_at >= started:
                    raise exception.NoCapacity(reason=str(err)) from None
                self._reload(context)
                try:
                    chosen, placement = self._select(request)
                except scheduler.NoValidHost as err:
                    raise exception.NoCapacity(reason=str(err)) from None
            self._model.apply(placement)
            self._model.observe(chosen)
            return self._model, chosen, placement

    def _select(self, request):
        with metrics.timed_decision():
            return self._select_snapped(request)

    def _select_snapped(self, request):
        first_error = None
        for candidate in snap(request, self._model.partition_shapes):
            try:
                return candidate, self._scheduler.select(candidate)
            except scheduler.NoValidHost as err:
                first_error = first_error or err
        raise first_error

    def _unreserve(self, model, placement, context=None, contested=None):
        with self._lock:
            if model is self._model:
                model.release(placement)
                if contested:
                    self._refresh_device(context, contested)

    def claim(self, context, spec: dict) -> dict:
        """Claim capacity for ``spec`` and return the SCHEDULED vGPU.

        The decision (and a reservation in the model) is made under the
        worker's lock; the transaction runs outside it, so one worker commits
        many claims at once (reserve / unreserve, as in the Kubernetes
        scheduling framework). The database stays the arbiter.

        :raises NoCapacity: nothing fits (409), with the scheduler's reason.
        :raises QuotaExceeded: the project's quota forbids it (409).
        """
        with metrics.observed_claim():
            return self._claim(context, spec)

    def _located(self, context, spec: dict) -> dict:
        """``spec`` with ``consumer_location`` when its platform says the consumer runs on
        another pool host than its own (asked only for platforms that discovered hosts)."""
        consumer = spec.get('consumer') or {}
        if self.locator is None or not consumer.get('host') or not consumer.get('id'):
            return spec
        with self._lock:
            if self._model is None:
                self._reload(context)
            asked = consumer.get('platform') in self._model.discovered_platforms
        if not asked:
            return spec
        # NOTE: outside the lock: the agent may take up to [api] consumer_locate_timeout.
        where = self.locator.locate(context, consumer)
        if not where or where == consumer['host']:
            return spec
        with self._lock:
            if where not in self._model.host_index:
                self._reload(context)
            known = where in self._model.host_index
        if not known:
            LOG.warning('%s consumer %s runs on %s, which is not in the pool: placing its vGPU '
                        'against %s (remote only)', consumer.get('platform'), consumer['id'],
                        where, consumer['host'])
            return spec
        return dict(spec, consumer_location=where)

    def _claim(self, context, spec: dict) -> dict:
        spec = self._located(context, spec)
        request = to_request(spec)
        started = time.monotonic()
        try:
            return self._claim_request(context, spec, request, started)
        except exception.NoCapacity as err:
            if not spec.get('consumer_location'):
                raise
            consumer = spec['consumer']
            raise exception.NoCapacity(reason='%s consumer %s of %s runs on %s: %s' % (
                consumer.get('platform'), consumer.get('id'), consumer.get('host'),
                spec['consumer_location'], err.kwargs.get('reason', err))) from None

    def _claim_request(self, context, spec: dict, request, started: float) -> dict:
        for _attempt in range(self.conf.scheduler.claim_retries):
            model, chosen, placement = self._decide(context, request, started)
            try:
                # A hard request holds the partition shape it was snapped to.
                shaped = dict(spec, compute_milli=chosen.compute_milli,
                              memory_mb=chosen.memory_mb)
                return vgpu_obj.create_claimed(context, shaped, placement)
            except exception.GenerationConflict as err:
                # NOTE: the device no longer has room (another worker, or a
                # stale model). Refresh just that device and decide again; a
                # full reload per lost race makes workers starve (BUG-6).
                LOG.debug('Lost a claim race on %s; deciding again', err.kwargs['uuid'])
                self._unreserve(model, placement, context, err.kwargs['uuid'])
                time.sleep(random.uniform(0, 0.002))
            except BaseException:
                self._unreserve(model, placement)
                raise
        raise exception.NoCapacity(reason='the pool changed under %d attempts in a row; retry'
                                   % self.conf.scheduler.claim_retries)
