"""Sphinx configuration of the pooling API reference (os-api-ref).

Build: ``tox -e api-ref`` (sphinx-build -W -b html -d api-ref/build/doctrees
api-ref/source api-ref/build/html). The per-route parts are generated from
pooling_api/openapi.yaml at build time by _extensions/pooling_api_ref.py.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '_extensions'))
# The generator lives in the package; a checkout needs no install to build the docs.
sys.path.insert(0, os.path.abspath(os.path.join(HERE, '..', '..')))

from pooling_api import api_ref  # noqa: E402

_INFO = api_ref.load()['info']

extensions = [
    'os_api_ref',
    'openstackdocstheme',
    'pooling_api_ref',
]

html_theme = 'openstackdocs'
html_theme_options = {'sidebar_mode': 'toc'}
# openstackdocstheme: the repository, for the "report a bug" and source links.
openstackdocs_repo_name = 'openstack/pooling'
openstackdocs_bug_project = 'pooling'
openstackdocs_bug_tag = 'api-ref'
openstackdocs_auto_name = False

project = 'Accelerator Pooling API Reference'
copyright = '2026, the pooling authors'

# The microversion selector at the top of the page.
os_api_ref_min_microversion = _INFO[api_ref.SINCE]
os_api_ref_max_microversion = _INFO['version']

master_doc = 'index'
source_suffix = {'.rst': 'restructuredtext'}
exclude_patterns = ['_generated', '_extensions']
pygments_style = 'native'
html_static_path = []
