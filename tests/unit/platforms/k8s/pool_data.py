"""A small pool as its REST API shows it (two device hosts, one consumer host, three profiles)."""

GPU_A0 = '11111111-aaaa-4000-8000-000000000000'
GPU_A1 = '11111111-aaaa-4000-8000-000000000001'
GPU_B0 = '22222222-bbbb-4000-8000-000000000000'


def device(uuid, host, model='A100-SXM4-80GB', memory=81920, health='healthy'):
    return {'uuid': uuid, 'host': host, 'pool': 'default', 'vendor': 'nvidia', 'model': model,
            'health': health, 'isolation': ['hard', 'firm', 'soft', 'none'],
            'capacity': {'compute_percent': 100.0, 'memory_mb': memory},
            'used': {'compute_percent': 0.0, 'memory_mb': 0},
            'free': {'compute_percent': 100.0, 'memory_mb': memory}}


def vgpu(uuid, platform, dev, compute, memory, state='ACTIVE'):
    return {'uuid': uuid, 'state': state, 'consumer': {'platform': platform, 'host': 'x',
                                                       'id': uuid},
            'slices': [{'index': 0, 'host': 'node-a', 'device_uuid': dev,
                        'compute_percent': compute, 'memory_mb': memory}]}


DEVICES = [device(GPU_A0, 'node-a'), device(GPU_A1, 'node-a'),
           device(GPU_B0, 'node-b', model='H100-SXM5-80GB')]
HOSTS = [{'name': 'node-a', 'fabric': 'fab-1', 'state': 'up'},
         {'name': 'node-b', 'fabric': 'fab-1', 'state': 'up'},
         {'name': 'node-c', 'fabric': 'fab-1', 'state': 'up'}]
PROFILES = [
    {'name': 'a100-quarter', 'compute_percent': 25, 'memory_mb': 20480, 'count': 1,
     'models': ['A100-SXM4-80GB'], 'isolation': 'soft', 'locality': 'remote-allowed'},
    {'name': 'half-local', 'compute_percent': 50, 'memory_mb': 40960, 'count': 1,
     'models': [], 'isolation': None, 'locality': 'local'},
    {'name': 'two-cards', 'compute_percent': 100, 'memory_mb': 81920, 'count': 2,
     'models': [], 'isolation': None, 'locality': 'local'},
]


def booked(devices, vgpus):
    """The devices as the API shows them while ``vgpus`` hold capacity (``used`` filled in)."""
    out = []
    for d in devices:
        c = sum(s['compute_percent'] for v in vgpus for s in v['slices']
                if s['device_uuid'] == d['uuid'])
        m = sum(s['memory_mb'] for v in vgpus for s in v['slices']
                if s['device_uuid'] == d['uuid'])
        out.append(dict(d, used={'compute_percent': float(c), 'memory_mb': m}))
    return out
