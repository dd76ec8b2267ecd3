"""JSON Schemas for the what-if report (GET /v1/usage/what-if)."""

from pooling_api.schemas import common

#: Bounds that keep one request's CPU time small: at most 5 seeds and 16 x the hosts.
MAX_SEEDS = 5
_SEED = r'[0-9]{1,6}(-[0-9]{1,6})?'

QUERY = {
    'type': 'object',
    'properties': {
        'pool': common.IDENT,
        'policy': {'type': 'string', 'pattern': r'^[A-Za-z0-9_.-]+(,[A-Za-z0-9_.-]+)*$',
                   'maxLength': 255},
        'seeds': {'type': 'string', 'pattern': '^%s(,%s)*$' % (_SEED, _SEED), 'maxLength': 64},
        'scale': {'type': 'string', 'pattern': r'^([1-9]|1[0-6])$'},
        'cards': {'type': 'string', 'minLength': 3, 'maxLength': 1024},
    },
    'additionalProperties': False,
}

_STATS = {'type': 'object', 'required': ['mean', 'sd', 'per_seed'],
          'properties': {'mean': {'type': ['number', 'null']}, 'sd': {'type': ['number', 'null']},
                         'per_seed': {'type': 'array', 'items': {'type': 'number'}}}}
_POLICY = {
    'type': 'object',
    'required': ['unallocated_pct_at_100', 'alloc_pct_at_first_failure', 'failures',
                 'more_that_fit', 'curve'],
    'properties': {
        'unallocated_pct_at_100': _STATS, 'alloc_pct_at_first_failure': _STATS,
        'failures': {'type': 'object', 'additionalProperties': {'type': 'integer'}},
        'more_that_fit': {'type': 'object', 'additionalProperties': {'type': 'number'}},
        'curve': {'type': 'array', 'items': {'type': 'array', 'items': {'type': 'number'},
                                             'minItems': 2, 'maxItems': 2}},
    },
    'additionalProperties': False,
}
REPORT = {
    'type': 'object',
    'required': ['demand', 'arrivals_recorded', 'hardware', 'cards', 'capacity_gpus', 'seeds',
                 'common_shapes', 'policies'],
    'properties': {
        'demand': {'type': 'string'}, 'arrivals_recorded': {'type': 'integer'},
        'hardware': {'type': 'string'},
        'cards': {'type': 'object', 'additionalProperties': {'type': 'integer'}},
        'capacity_gpus': {'type': 'number'},
        'seeds': {'type': 'array', 'items': {'type': 'integer'}},
        'common_shapes': {'type': 'array', 'items': {
            'type': 'object', 'required': ['compute_percent', 'memory_mb', 'count', 'label']}},
        'policies': {'type': 'object', 'additionalProperties': _POLICY},
    },
    'additionalProperties': False,
}
