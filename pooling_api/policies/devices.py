"""Policy rules for devices (reported by agents; read-only in the API)."""

from oslo_policy import policy

from pooling_api.policies import base

LIST = 'pooling:devices:list'
SHOW = 'pooling:devices:show'

RULES = [
    policy.DocumentedRuleDefault(name=LIST, check_str=base.HARDWARE_READER,
                                 scope_types=base.HARDWARE_SCOPE,
                                 description='List devices.',
                                 operations=[{'path': '/v1/devices', 'method': 'GET'}]),
    policy.DocumentedRuleDefault(name=SHOW, check_str=base.HARDWARE_READER,
                                 scope_types=base.HARDWARE_SCOPE,
                                 description='Show a device.',
                                 operations=[{'path': '/v1/devices/{uuid}', 'method': 'GET'}]),
]


def list_rules():
    return RULES
