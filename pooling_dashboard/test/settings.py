"""Django settings for the dashboard's tests: Horizon's own test settings plus our panels."""

import os

import openstack_dashboard.enabled
from openstack_dashboard.test.settings import *  # noqa: F403
from openstack_dashboard.test.settings import HORIZON_CONFIG
from openstack_dashboard.test.settings import INSTALLED_APPS
from openstack_dashboard.utils import settings as settings_utils

import pooling_dashboard.enabled

settings_utils.update_dashboards(
    [openstack_dashboard.enabled, pooling_dashboard.enabled], HORIZON_CONFIG, INSTALLED_APPS)
# NOTE: Horizon's test settings ran update_dashboards once already; keep each app once.
INSTALLED_APPS = list(dict.fromkeys(INSTALLED_APPS))

# The browser tests point the plugin at a live pooling-aio; view tests mock the API module.
POOLING_API_URL = os.environ.get('POOLING_API_URL', 'http://127.0.0.1:6388')

# NOTE: a real theme, not the bare test page: Horizon's test settings leave every stylesheet to
# django-compressor, which compiles the theme's SCSS on first request; the test settings point
# its output at /tmp/ which the live server does not serve. Compile offline-less into our own
# directory under STATIC_ROOT instead, so pages come styled (see doc/source/admin/dashboard.md).
COMPRESS_ENABLED = True
COMPRESS_OFFLINE = False
