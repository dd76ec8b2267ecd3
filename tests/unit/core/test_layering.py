"""Imports run one way: pooling_api → pooling → drivers, never back."""

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))

FORBIDDEN = {'pooling': ('pooling_api', 'poolingclient'),
             'drivers': ('pooling', 'pooling_api', 'poolingclient')}


def _imports(path):
    with open(path) as f:
        tree = ast.parse(f.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


@pytest.mark.parametrize('package', sorted(FORBIDDEN))
def test_no_import_goes_back(package):
    bad = []
    for dirpath, _dirs, files in os.walk(os.path.join(ROOT, package)):
        for name in files:
            if not name.endswith('.py'):
                continue
            path = os.path.join(dirpath, name)
            for module in _imports(path):
                top = module.split('.')[0]
                if top in FORBIDDEN[package]:
                    bad.append('%s imports %s' % (os.path.relpath(path, ROOT), module))
    assert not bad, bad
