"""The API and CLI pages say what the code serves (issue 16: error texts, /v1/slots,
partitions, health ... had drifted). The per-route detail lives in the generated API
reference (tests/unit/api/test_api_ref.py); api-v1.md keeps the concepts, and every
error text it quotes is one the service writes. cli.md names every command of the
plugin with exactly the flags its parser has."""

from importlib import metadata
import json
from pathlib import Path
import re

import pytest
import webob

from pooling import exception
from pooling_api import method
from pooling_api import microversion
from pooling_api import validation
from pooling_api.controllers import root
from pooling_api.schemas import vgpus

DOC = Path(__file__).resolve().parents[3] / 'doc' / 'source'
API = (DOC / 'contributor' / 'api-v1.md').read_text()
CLI = (DOC / 'cli.md').read_text()
# What cliff gives every command (output formatting); cli.md speaks of these once.
CLIFF = {'-h', '--help', '-f', '--format', '-c', '--column', '--quote', '--noindent',
         '--max-width', '--fit-width', '--print-empty', '--sort-column', '--sort-ascending',
         '--sort-descending', '--variable', '--prefix'}


def test_api_page_points_at_the_generated_reference():
    assert 'tox -e api-ref' in API and 'pooling_api/openapi.yaml' in API


def test_api_page_names_every_route():
    for path in root.ROUTES:
        top = re.sub(r'/\{[^}]+\}.*', '', path)
        assert '`%s' % top in API, path


def test_every_microversion_is_explained():
    section = API.split('## Microversions')[1].split('## ')[0]
    history = (Path(microversion.__file__).parent / 'rest_api_version_history.rst').read_text()
    for version in microversion.VERSIONS[1:]:
        assert re.search(r'\b%s\b' % re.escape(version), section), version
        assert '\n%s\n---' % version in history, version


def _body_error(body: dict, req_version: str = '1.0') -> str:
    req = webob.Request.blank('/v1/vgpus', method='POST', body=json.dumps(body).encode(),
                              content_type='application/json')
    req.environ[microversion.ENVIRON_KEY] = microversion.extract(
        {microversion.HEADER: 'accelerator-pool %s' % req_version})
    with pytest.raises(method.HTTPError) as err:
        validation.body(req, vgpus.CREATE)
    return err.value.detail


def test_error_texts_quoted_are_the_services():
    quoted = [
        _body_error({'compute_percent': 25}),
        _body_error({'compute_percent': 0, 'memory_mb': 1}),
        _body_error({'profile': 'p', 'link': 'nvlink'}),
        str(exception.NotFound(kind='Pool', ident='nope')),
    ]
    flat = ' '.join(API.split())
    for text in quoted:
        assert text in flat, text


def _cli_rows() -> dict:
    """Command → the flags and arguments its rows of cli.md's table name."""
    commands = sorted((' '.join(ep.name.split('_')) for ep in metadata.entry_points(
        group='openstack.accelerator_pool.v1')), key=len, reverse=True)
    rows = {}
    for line in CLI.splitlines():
        cell = re.match(r'\| `([^`]*)`', line)
        if not cell:
            continue
        for command in commands:
            if cell.group(1) == command or cell.group(1).startswith(command + ' '):
                rows.setdefault(command, []).append(line.split(' | ')[0])
                break
    return rows


def test_every_cli_command_is_documented():
    commands = [ep.name for ep in metadata.entry_points(group='openstack.accelerator_pool.v1')]
    assert commands
    for name in commands:
        command = 'accelerator ' + ' '.join(name.split('_')[1:])
        assert '`' + command in CLI, command


def test_every_cli_flag_is_documented_and_exists():
    rows = _cli_rows()
    for ep in metadata.entry_points(group='openstack.accelerator_pool.v1'):
        command = ' '.join(ep.name.split('_'))
        parser = ep.load()(None, None).get_parser(command)
        flags = {opt for action in parser._actions for opt in action.option_strings
                 if opt.startswith('--')} - CLIFF
        documented = set(re.findall(r'--[a-z][a-z-]*', ' '.join(rows[command])))
        assert flags == documented, (command, sorted(flags ^ documented))
        positional = [a for a in parser._actions if not a.option_strings]
        assert len(re.findall(r'<[a-z]+>', ' '.join(rows[command])[len(command):])) >= len(
            positional), command
