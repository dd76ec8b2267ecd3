"""Django settings for the dashboard's tests: Horizon's own test settings plus our panels."""

import os
import tempfile

from openstack_dashboard import theme_settings
import openstack_dashboard.enabled
from openstack_dashboard.test.settings import *  # noqa: F403
from openstack_dashboard.test.settings import AVAILABLE_THEMES
from openstack_dashboard.test.settings import HORIZON_CONFIG
from openstack_dashboard.test.settings import INSTALLED_APPS
from openstack_dashboard.test.settings import ROOT_PATH
from openstack_dashboard.test.settings import STATICFILES_DIRS
from openstack_dashboard.test.settings import THEME_COLLECTION_DIR
from openstack_dashboard.utils import settings as settings_utils

import pooling_dashboard.enabled

settings_utils.update_dashboards(
    [openstack_dashboard.enabled, pooling_dashboard.enabled], HORIZON_CONFIG, INSTALLED_APPS)
# NOTE: Horizon's test settings ran update_dashboards once already; keep each app once.
INSTALLED_APPS = list(dict.fromkeys(INSTALLED_APPS))

# The browser tests point the plugin at a live pooling-aio; view tests mock the API module.
POOLING_API_URL = os.environ.get('POOLING_API_URL', 'http://127.0.0.1:6388')

# NOTE: the real theme. Horizon's test settings leave COMPRESS_PRECOMPILERS unset, so the
# theme's SCSS <link>s are passed through uncompiled and pages come unstyled; these are the
# production values of openstack_dashboard/settings.py. Compiled CSS lands in COMPRESS_ROOT,
# which compressor's static finder serves (the browser tests serve static files by finders).
COMPRESS_ENABLED = True
COMPRESS_OFFLINE = False
COMPRESS_PRECOMPILERS = (('text/scss', 'horizon.utils.scss_filter.ScssFilter'),)
COMPRESS_FILTERS = {
    'css': ('compressor.filters.css_default.CssAbsoluteFilter',),
    'js': ('compressor.filters.jsmin.rJSMinFilter',),
}
# The themes' own static folders (production settings add them; the test settings do not), so
# the SCSS importer finds themes/default/variables and the rest.
STATICFILES_DIRS = theme_settings.get_theme_static_dirs(
    AVAILABLE_THEMES, THEME_COLLECTION_DIR, ROOT_PATH) + list(STATICFILES_DIRS)
COMPRESS_ROOT = os.environ.get('POOLING_COMPRESS_ROOT',
                               os.path.join(tempfile.gettempdir(), 'pooling-dashboard-static'))

# Horizon's real URLs (the test ones lack /header/, so every page said "Failed to populate
# extensible header").
ROOT_URLCONF = 'openstack_dashboard.urls'
