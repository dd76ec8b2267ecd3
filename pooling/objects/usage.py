"""Pool usage per pool and model: capacity, allocated, free and stranded.

Stranded capacity is free capacity that none of the shapes tenants ask for
most could use: a device's free share counts as stranded when no common shape
fits in it. Before any vGPU was requested, the published profiles stand in.
"""

from pooling.db import api as db_api
from pooling.objects import device as device_obj
from pooling.objects import profile as profile_obj
from pooling.objects import vgpu as vgpu_obj

COMMON_SHAPES = 3


def _fits(free_c, free_m, shape) -> bool:
    compute, memory, count = shape
    if count > 1:
        # NOTE: a multi-card shape needs whole free cards; one card alone counts
        # as usable for it (the other cards may be on the same host).
        return free_c >= 1000 and free_m >= memory
    return free_c >= compute and free_m >= memory


#: whether a (compute_milli, memory_mb, count) shape fits a card's free share (pooling.metrics).
fits = _fits


@db_api.reader
def usage(context, pool=None) -> list[dict]:
    shapes = vgpu_obj.shapes_requested(context, limit=COMMON_SHAPES)
    if not shapes:
        shapes = [(p['compute_milli'], p['memory_mb'], p['count'])
                  for p in profile_obj.list_profiles(context)][:COMMON_SHAPES]
    groups: dict[tuple, dict] = {}
    for dev in device_obj.list_devices(context, pool=pool):
        entry = groups.setdefault((dev['pool'], dev['model']), {
            'pool': dev['pool'], 'model': dev['model'], 'devices': 0,
            'capacity': [0, 0], 'allocated': [0, 0], 'free': [0, 0], 'stranded': [0, 0]})
        entry['devices'] += 1
        entry['capacity'][0] += dev['compute_total']
        entry['capacity'][1] += dev['memory_mb']
        entry['allocated'][0] += dev['compute_used']
        entry['allocated'][1] += dev['memory_used']
        free_c = dev['compute_total'] - dev['compute_used']
        free_m = dev['memory_mb'] - dev['memory_used']
        usable = dev['health'] == 'healthy'
        if usable:
            entry['free'][0] += free_c
            entry['free'][1] += free_m
        if usable and (free_c or free_m) and shapes and not any(
                _fits(free_c, free_m, s) for s in shapes):
            entry['stranded'][0] += free_c
            entry['stranded'][1] += free_m
    result = []
    for entry in groups.values():
        for key in ('capacity', 'allocated', 'free', 'stranded'):
            compute, memory = entry[key]
            entry[key] = {'compute_percent': compute / 10, 'memory_mb': memory}
        entry['common_shapes'] = [{'compute_percent': c / 10, 'memory_mb': m, 'count': n}
                                  for c, m, n in shapes]
        result.append(entry)
    return sorted(result, key=lambda e: (e['pool'], e['model']))
