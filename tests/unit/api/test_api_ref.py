"""The API reference (api-ref/) is rendered from the OpenAPI document and builds.

Every route of the route table is in it with its microversion, every field has
a description, every example matches its schema, and ``sphinx-build -W``
succeeds (issue 16: the hand-written API pages had drifted from the code).
"""

import importlib.util
import os
import shutil
import subprocess
import sys
import types

import jsonschema
import microversion_parse
import pytest
import yaml

from pooling_api import api_ref
from pooling_api import microversion
from pooling_api.controllers import profiles as profiles_ctl
from pooling_api.controllers import root
from pooling_api.controllers import vgpus as vgpus_ctl
from pooling_api.schemas import common
from pooling_api.schemas import profiles as profiles_schema
from pooling_api.schemas import vgpus as vgpus_schema

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
SOURCE = os.path.join(ROOT, 'api-ref', 'source')


def _fields():
    with open(os.path.join(SOURCE, 'fields.yaml')) as f:
        return yaml.safe_load(f)


def _render(doc=None, fields=None):
    return api_ref.render(api_ref.load() if doc is None else doc,
                          _fields() if fields is None else fields)


def test_every_route_is_in_the_reference_with_its_microversion():
    files, _warnings, _examples = _render()
    text = '\n'.join(files.values())
    for path, methods in root.ROUTES.items():
        for method in methods:
            stanza = '.. rest_method:: %s %s\n' % (method, path)
            assert stanza in text, stanza
            page = files['%s.inc' % api_ref.resource_of(path)]
            after = page[page.index(stanza) + len(stanza):].split('.. rest_method::')[0]
            since = root.MIN_VERSIONS.get((path, method))
            assert ('min_version: %s' % since in after) if since else (
                'min_version' not in after.split('Request')[0]), (method, path)


def test_newer_fields_carry_min_version():
    files, _warnings, _examples = _render()
    params = yaml.safe_load(files['parameters.yaml'])
    for schema in (vgpus_schema.VGPU, vgpus_schema.CREATE, profiles_schema.PROFILE,
                   profiles_schema.CREATE):
        for field, version in common.fields_since(schema).items():
            found = [v for k, v in params.items() if k.split('-')[0] == field
                     and v.get('min_version') == version]
            assert found, (field, version)


def test_every_resource_and_field_has_prose():
    _files, warnings, _examples = _render()
    assert warnings == []


def test_a_field_without_a_description_is_a_warning():
    fields = _fields()
    del fields['descriptions']['whole_free_cards']
    _files, warnings, _examples = _render(fields=fields)
    assert any("'capacity.models.whole_free_cards'" in w for w in warnings), warnings


def test_every_example_matches_its_schema():
    _files, _warnings, examples = _render()
    assert {e.kind for e in examples} == {'request', 'response', 'error'}
    bodies = {(e.operation.method, e.operation.path) for e in examples if e.kind == 'request'}
    assert ('POST', '/v1/vgpus') in bodies and ('PUT', '/v1/quotas/{project_id}') in bodies
    for example in examples:
        jsonschema.Draft202012Validator(example.schema).validate(example.body)


def test_request_examples_are_minimal():
    _files, _warnings, examples = _render()
    create = [e.body for e in examples
              if e.kind == 'request' and e.operation.path == '/v1/vgpus'][0]
    assert create == {'profile': 'a100-half'}


def _req(version):
    return types.SimpleNamespace(environ={
        microversion.ENVIRON_KEY: microversion_parse.Version(*map(int, version.split('.')))})


def _previous(version):
    major, minor = map(int, version.split('.'))
    return '%d.%d' % (major, minor - 1)


def test_serializers_hide_exactly_the_fields_the_schemas_date():
    # The "New in version" of the reference is what the serializers do.
    vgpu = {'uuid': 'u', 'compute_milli': 500, 'slices': [], 'lease': None, 'moves': [],
            'degraded_reason': '', 'link': None, 'holds_capacity': True}
    for field, version in common.fields_since(vgpus_schema.VGPU).items():
        assert field not in vgpus_ctl.serialize(vgpu, _req(_previous(version)))
        assert field in vgpus_ctl.serialize(vgpu, _req(version))
    profile = {'uuid': 'u', 'compute_milli': 500, 'link': None}
    for field, version in common.fields_since(profiles_schema.PROFILE).items():
        assert field not in profiles_ctl.serialize(profile, _req(_previous(version)))
        assert field in profiles_ctl.serialize(profile, _req(version))


def _missing_doc_tools():
    return [m for m in ('sphinx', 'os_api_ref', 'openstackdocstheme')
            if importlib.util.find_spec(m) is None]


@pytest.mark.skipif(bool(_missing_doc_tools()),
                    reason='the docs tools are not installed (test-requirements.txt has them: '
                           'tools/venv.sh installs them)')
def test_sphinx_build_succeeds(tmp_path):
    source = tmp_path / 'source'
    shutil.copytree(SOURCE, source, ignore=shutil.ignore_patterns('_generated', '__pycache__'))
    html = tmp_path / 'html'
    result = subprocess.run(
        [sys.executable, '-m', 'sphinx', '-W', '-q', '-b', 'html', '-d',
         str(tmp_path / 'doctrees'), str(source), str(html)],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
        # conf.py finds the checkout two folders up; the copy is elsewhere.
        env=dict(os.environ, PYTHONPATH=ROOT))
    assert result.returncode == 0, result.stdout + result.stderr
    page = (html / 'index.html').read_text()
    for path, methods in root.ROUTES.items():
        shown = path.replace('{', '<span class="path_parameter">{').replace(
            '}', '}</span>')
        assert 'class="endpoint-url">%s' % shown in page, path
        for method in methods:
            assert 'label-%s' % method in page
    assert 'slices.host' in page and 'New in version 1.4' in page
