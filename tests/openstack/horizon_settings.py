"""Django settings of the Horizon that test_dashboard_login starts against the stack's Keystone.

The plugin's test settings (real theme, Horizon's real URLs) with the parts a real deployment
has instead of Horizon's test doubles: the stack's Keystone for login, signed-cookie sessions
(no database), the pool found in the Keystone catalog (no ``POOLING_API_URL``).
"""

import os

from pooling_dashboard.test.settings import *  # noqa: F401,F403

OPENSTACK_KEYSTONE_URL = os.environ.get('E2E_KEYSTONE_URL', 'http://127.0.0.1:5000/v3')
AVAILABLE_REGIONS = []  # the test settings offer two fake Keystones in a Region menu
OPENSTACK_KEYSTONE_MULTIDOMAIN_SUPPORT = False
OPENSTACK_KEYSTONE_DEFAULT_DOMAIN = 'Default'
OPENSTACK_ENDPOINT_TYPE = 'publicURL'
POOLING_API_URL = None  # the catalog's accelerator-pool endpoint, as in production
SESSION_ENGINE = 'django.contrib.sessions.backends.signed_cookies'
DEBUG = True  # runserver serves the static files (and the compiled theme)
ALLOWED_HOSTS = ['127.0.0.1', 'localhost']
