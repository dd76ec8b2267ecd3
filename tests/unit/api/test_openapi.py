"""The OpenAPI document covers the route table and the committed copy is current."""

import os

import jsonschema
import yaml

from pooling_api import openapi
from pooling_api.controllers import root

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))


def test_every_route_is_documented():
    doc = openapi.document()
    for path, methods in root.ROUTES.items():
        for method in methods:
            assert method.lower() in doc['paths'][path], (path, method)


def test_committed_document_is_current():
    with open(os.path.join(ROOT, 'pooling_api', 'openapi.yaml')) as f:
        committed = yaml.safe_load(f)
    assert committed == openapi.document(), (
        'pooling_api/openapi.yaml is stale: run python -m pooling_api.openapi > '
        'pooling_api/openapi.yaml')


def test_schemas_are_valid_json_schema():
    for _key, (query, body, _status, response) in openapi.OPERATIONS.items():
        for schema in (query, body, response):
            if schema is not None:
                jsonschema.Draft202012Validator.check_schema(schema)
