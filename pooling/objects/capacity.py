"""What a tenant may know to choose a shape: free capacity per profile and per model.

Hosts, devices and pool usage are the operator's (admin) view: names, PCI
addresses, health and every project's allocations. A tenant only needs to
know which shapes it can get now, so this view gives, per pool and model,
the healthy free capacity and the largest share free on one card, and per
profile how many vGPUs of it the scheduler could place now (up to
``LIMIT``, counted on a model of the pool that is taken back afterwards).
Nothing here names a host, a device or another project.
"""

from pooling import claims
from pooling import scheduler
from pooling.db import api as db_api
from pooling.objects import device as device_obj
from pooling.objects import profile as profile_obj

# NOTE: counting placements one by one costs one scheduler decision each;
# "at least 32" is all a tenant choosing a shape needs to know.
LIMIT = 32


def _count(model, policy_name: str, request, limit: int) -> int:
    sched = scheduler.Scheduler(model, policy=policy_name)
    taken = []
    try:
        while len(taken) < limit:
            try:
                placement = sched.select(request)
            except (scheduler.NoValidHost, ValueError):
                break
            model.apply(placement)
            taken.append(placement)
    finally:
        for placement in taken:
            model.release(placement)
    return len(taken)


@db_api.reader
def capacity(context, policy_name: str, pool: str | None = None) -> dict:
    models: dict[tuple, dict] = {}
    for dev in device_obj.list_devices(context, pool=pool):
        entry = models.setdefault((dev['pool'], dev['vendor'], dev['model']), {
            'pool': dev['pool'], 'vendor': dev['vendor'], 'model': dev['model'],
            'free': [0, 0], 'largest_free': [0, 0], 'whole_free_cards': 0})
        if dev['health'] != 'healthy':
            continue
        free_c = dev['compute_total'] - dev['compute_used']
        free_m = dev['memory_mb'] - dev['memory_used']
        entry['free'][0] += free_c
        entry['free'][1] += free_m
        entry['largest_free'] = max(entry['largest_free'], [free_c, free_m])
        entry['whole_free_cards'] += dev['compute_used'] == 0 and dev['memory_used'] == 0
    model_list = []
    for entry in sorted(models.values(), key=lambda e: (e['pool'], e['vendor'], e['model'])):
        for key in ('free', 'largest_free'):
            compute, memory = entry[key]
            entry[key] = {'compute_percent': compute / 10, 'memory_mb': memory}
        model_list.append(entry)
    pool_model = claims.load_model(context)
    profiles = []
    for prof in profile_obj.list_profiles(context):
        locality = prof['locality'] if prof['locality'] != 'local' else 'remote-allowed'
        spec = {'compute_milli': prof['compute_milli'], 'memory_mb': prof['memory_mb'],
                'count': prof['count'], 'models': prof['models'], 'locality': locality,
                'isolation': prof['isolation'], 'pool': pool}
        profiles.append({'name': prof['name'], 'available': _count(
            pool_model, policy_name, claims.to_request(spec), LIMIT)})
    return {'models': model_list, 'profiles': profiles, 'available_limit': LIMIT}
