"""API microversions: the one list of versions and how a request picks one.

Header: ``OpenStack-API-Version: accelerator-pool 1.N``. Add a version by
appending to VERSIONS with a comment, marking what it adds (a route in
controllers/root.py MIN_VERSIONS, a field with schemas.common.since, which the
serializers, request validation, the OpenAPI document and the API reference
all follow), adding an entry to rest_api_version_history.rst and a reno note.
"""

import microversion_parse

SERVICE_TYPE = 'accelerator-pool'
HEADER = 'OpenStack-API-Version'
ENVIRON_KEY = 'pooling.microversion'

VERSIONS = [
    '1.0',  # pools, hosts, devices, profiles, vgpus, usage, quotas
    '1.1',  # GET /v1/capacity: free capacity per profile and model, for every reader
    '1.2',  # GET /v1/usage: by_platform, each pool and model's allocation per consumer platform
    '1.3',  # /v1/vgpus/{uuid}/lease; vgpu shows lease, moves, degraded_reason
    '1.4',  # POST /v1/vgpus takes link (the cards' link level); vgpu shows link
]

MIN_VERSION = microversion_parse.Version(*map(int, VERSIONS[0].split('.')))
MAX_VERSION = microversion_parse.Version(*map(int, VERSIONS[-1].split('.')))


class BadVersion(ValueError):
    """The header is malformed (400)."""


class UnsupportedVersion(ValueError):
    """The version is outside what this server supports (406)."""


def extract(headers) -> microversion_parse.Version:
    """The version a request asked for, the minimum when it asked for none."""
    try:
        text = microversion_parse.get_version(headers, service_type=SERVICE_TYPE)
    except ValueError as err:
        raise BadVersion(str(err)) from None
    if text is None:
        return MIN_VERSION
    if text.strip() == 'latest':
        return MAX_VERSION
    try:
        version = microversion_parse.parse_version_string(text)
    except (TypeError, ValueError):
        raise BadVersion('Invalid microversion %r: expected "%s 1.N" or "latest"'
                         % (text[:32], SERVICE_TYPE)) from None
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise UnsupportedVersion('Microversion %s is not supported: this server supports %s '
                                 'to %s' % (text, VERSIONS[0], VERSIONS[-1]))
    return version


def requested(req) -> microversion_parse.Version:
    """The microversion ``req`` was given (set by the Microversion middleware)."""
    return req.environ.get(ENVIRON_KEY, MIN_VERSION)


def max_version_string() -> str:
    return VERSIONS[-1]


def at_least(req, text: str) -> bool:
    """Whether the request asked for microversion ``text`` or newer."""
    wanted = microversion_parse.Version(*map(int, text.split('.')))
    return req.environ.get(ENVIRON_KEY, MIN_VERSION) >= wanted
