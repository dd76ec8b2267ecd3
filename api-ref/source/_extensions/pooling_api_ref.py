"""Sphinx extension: write the API reference's generated parts before Sphinx reads.

pooling_api.api_ref renders, from pooling_api/openapi.yaml, one ``.inc`` per
resource (``.. rest_method::``, ``.. rest_parameters::``, status codes,
examples), ``parameters.yaml`` and ``status.yaml`` into ``_generated/`` beside
this folder. Missing prose (a field without a description, a resource without
an introduction) is a warning, so ``sphinx-build -W`` fails on it.
"""

from sphinx.util import logging

from pooling_api import api_ref

LOG = logging.getLogger(__name__)


def _generate(app):
    for warning in api_ref.write(app.srcdir):
        LOG.warning(warning)


def setup(app):
    app.connect('builder-inited', _generate)
    return {'parallel_read_safe': True, 'parallel_write_safe': True}
