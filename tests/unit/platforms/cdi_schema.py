"""Validate CDI specs against the published JSON schema as Debian ships it.

Debian's ``golang-github-container-orchestrated-devices-container-device-interface-dev``
installs the upstream ``schema.json`` and ``defs.json`` (the 0.5-era schema that Podman 4.3
accepts); ``tools/ci-deps.sh`` installs it.  We do not vendor the schema.
"""

import json
import os

import jsonschema
import referencing

SCHEMA_DIR = os.environ.get(
    'POOLING_CDI_SCHEMA_DIR',
    '/usr/share/gocode/src/github.com/container-orchestrated-devices/'
    'container-device-interface/schema')


def available() -> bool:
    return os.path.exists(os.path.join(SCHEMA_DIR, 'schema.json'))


def validator():
    def load(name):
        with open(os.path.join(SCHEMA_DIR, name)) as f:
            return json.load(f)

    defs = referencing.Resource.from_contents(
        load('defs.json'), default_specification=referencing.jsonschema.DRAFT7)
    registry = referencing.Registry().with_resource('defs.json', defs)
    schema = load('schema.json')
    return jsonschema.Draft7Validator(schema, registry=registry)
