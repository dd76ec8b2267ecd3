"""The API and CLI pages say what the code serves: every route, every field of the
answers, every CLI command (issue 16: /v1/slots, partitions, health ... were missing)."""

from importlib import metadata
from pathlib import Path
import re

from pooling_api.controllers import root
from pooling_api.schemas import devices
from pooling_api.schemas import hosts
from pooling_api.schemas import pools
from pooling_api.schemas import profiles
from pooling_api.schemas import quotas
from pooling_api.schemas import usage
from pooling_api.schemas import vgpus

DOC = Path(__file__).resolve().parents[3] / 'doc' / 'source'
API = (DOC / 'contributor' / 'api-v1.md').read_text()
CLI = (DOC / 'cli.md').read_text()


def _words(text: str) -> set:
    return set(re.findall(r'[A-Za-z_][A-Za-z0-9_-]*', text))


def test_every_route_is_documented():
    for path in root.ROUTES:
        # '/v1/vgpus/{ident}/lease' is written '/v1/vgpus/{uuid or name}/lease' and so on.
        pattern = re.escape(path).replace(r'\{ident\}', r'\{[^}]+\}').replace(
            r'\{project_id\}', r'\{[^}]+\}')
        assert re.search('`%s`' % pattern, API) or re.search(
            r'`%s[ `]' % pattern, API), path


def test_every_answer_field_is_documented():
    words = _words(API)
    schemas = [pools.POOL, hosts.HOST, devices.DEVICE, profiles.PROFILE, vgpus.VGPU,
               vgpus.SLICE, usage.ENTRY, quotas.QUOTA['properties']['quota']]
    for schema in schemas:
        for field in schema['properties']:
            assert field in words, field


def test_every_cli_command_is_documented():
    commands = [ep.name for ep in metadata.entry_points(group='openstack.accelerator_pool.v1')]
    assert commands
    for name in commands:
        command = 'accelerator ' + ' '.join(name.split('_')[1:])
        assert '`' + command in CLI, command
