"""Browser tests: headless Chromium against a live Horizon and a live pool.

Horizon runs in Django's live server with the plugin enabled and Horizon's test login (no
Keystone here: Horizon's SeleniumTestCase signs a test user in); the pool is a real
``pooling-aio`` (API, conductor and simulated agents on SQLite) that the plugin reaches over
HTTP. The tests create a vGPU through the form, see it become ACTIVE, delete it, fail cleanly
on a shape no card can hold, and take a screenshot of each panel (to
``$POOLING_SCREENSHOT_DIR``; ``doc/source/images/`` holds the committed ones).

Needs Debian's chromium and chromium-driver (tools/ci-deps.sh installs them); without them the
tests skip and say so.
"""

import os
import shutil
import socket
import tempfile
import time

from django.contrib.staticfiles import handlers as static_handlers
from django.test.utils import override_settings
from horizon.test import helpers as horizon_helpers
from openstack_dashboard.test import helpers
import pytest

from tests.dashboard import pages

CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')
CHROMEDRIVER = shutil.which('chromedriver')

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason='headless browser tests need Debian chromium and chromium-driver '
           '(bash tools/ci-deps.sh installs them)')

SHOTS = os.environ.get('POOLING_SCREENSHOT_DIR') or tempfile.mkdtemp(prefix='pooling-shots-')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _chrome():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
                '--disable-background-networking', '--disable-component-update',
                '--disable-sync', '--no-first-run', '--window-size=1400,1000'):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


class _Live(helpers.SeleniumAdminTestCase):
    """One pooling-aio and one Chromium for the class; Horizon's live server serves static
    files through the finders, so the compiled theme is served too."""

    static_handler = static_handlers.StaticFilesHandler

    @classmethod
    def setUpClass(cls):
        from pooling_api import aio

        cls.state = tempfile.mkdtemp(prefix='pooling-aio-')
        cls.aio = aio.AllInOne(cls.state, port=_free_port())
        cls.aio.start()
        cls.settings = override_settings(POOLING_API_URL=cls.aio.endpoint)
        cls.settings.enable()
        cls.selenium = _chrome()
        cls.selenium.set_page_load_timeout(180)  # the first page compiles the theme's SCSS
        # NOTE: skip horizon's SeleniumTestCase.setUpClass (it builds its own driver, which
        # cannot run as root); the live server itself comes from LiveServerTestCase.
        super(horizon_helpers.SeleniumTestCase, cls).setUpClass()

    @classmethod
    def tearDownClass(cls):
        super(horizon_helpers.SeleniumTestCase, cls).tearDownClass()
        cls.selenium.quit()
        cls.settings.disable()
        cls.aio.stop()
        shutil.rmtree(cls.state, ignore_errors=True)

    def setUp(self):
        super().setUp()
        self.selenium.implicitly_wait(0)

    # -- helpers --------------------------------------------------------------------------------
    def open(self, path):
        self.selenium.get(self.live_server_url + path)

    def wait(self, condition, what, timeout=60):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                result = condition()
                if result:
                    return result
            except Exception as err:  # the page is changing under us
                last = err
            time.sleep(0.3)
        self.shot('timeout-' + what.replace(' ', '-'))
        raise AssertionError('timed out waiting for %s (%s)' % (what, last))

    def css(self, selector):
        return self.selenium.find_elements('css selector', selector)

    def shot(self, name):
        os.makedirs(SHOTS, exist_ok=True)
        self.selenium.save_screenshot(os.path.join(SHOTS, name + '.png'))

    def assert_styled(self):
        """The theme is compiled: Bootstrap's navbar is fixed and the body font is not the
        browser default."""
        nav = self.css('nav.navbar')[0]
        self.assertEqual('fixed', nav.value_of_css_property('position'))
        family = self.selenium.execute_script(
            'return getComputedStyle(document.body).fontFamily')
        self.assertNotIn('Times', family)


class VgpuPanelBrowserTests(_Live):
    def _fill_shape(self, name, compute, memory):
        return pages.fill_shape(self.selenium, self.wait,
                                self.live_server_url + '/project/vgpus/', name, compute, memory)

    def _row(self, name):
        return pages.row(self.selenium, name)

    def test_create_see_active_delete(self):
        form = self._fill_shape('browser-1', 25, 20480)
        self.assert_styled()
        self.shot('dashboard-vgpu-create')
        pages.submit(form)
        self.wait(lambda: self._row('browser-1'), 'the new row')
        # The row refreshes itself (no reload) until the vGPU is ACTIVE.
        self.wait(lambda: 'Active' in self._row('browser-1').text, 'the vGPU to be Active')
        self.assertIn('25% · 20480 MiB', self._row('browser-1').text)
        self.shot('dashboard-vgpus')

        # Its detail page: slices and history.
        self._row('browser-1').find_element('link text', 'browser-1').click()
        self.wait(lambda: self.css('#slices'), 'the slices table')
        self.assertIn('History', self.selenium.page_source)
        self.shot('dashboard-vgpu-detail')

        self.open('/project/vgpus/')
        pages.delete(self.selenium, self.wait, 'browser-1')

    def test_detail_page_follows_the_state_without_reloading(self):
        from pooling import service as pooling_service
        from pooling_api import aio

        # With the conductor stopped the vGPU stays SCHEDULED; a new conductor then prepares
        # it (at once, or when its reconciler re-drives it) while the page is open.
        old = self.aio.services[0]
        old.stop()
        status, vgpu = aio._http('POST', self.aio.endpoint + '/v1/vgpus',
                                 {'name': 'slow-1', 'compute_percent': 10, 'memory_mb': 1024})
        self.assertEqual(201, status, vgpu)
        self.open('/project/vgpus/%s/' % vgpu['uuid'])
        state = self.wait(lambda: self.css('#vgpu_state'), 'the detail page')[0]
        self.assertEqual('SCHEDULED', state.text)
        self.selenium.execute_script('window.__same_page = true;')
        new = pooling_service.ConductorService(self.aio.conf, old.transport)
        new.start()
        self.aio.services[0] = new
        self.wait(lambda: self.css('#vgpu_state')[0].text == 'ACTIVE', 'the state to be ACTIVE',
                  timeout=90)
        self.assertTrue(self.selenium.execute_script('return window.__same_page === true;'))
        self.assertIn('gpu-', self.css('#slices')[0].text)

    def test_a_shape_no_card_holds_fails_cleanly(self):
        form = self._fill_shape('too-big', 10, 900000)
        pages.submit(form)
        alert = pages.error_alert(self.selenium, self.wait)
        self.assertIn('Unable to create the vGPU', alert)
        self.assertIn('900000', alert)  # the API's own sentence says what did not fit
        self.assertIsNone(self._row('too-big'))


class PoolsPanelBrowserTests(_Live):
    def _claim(self, name, **body):
        from pooling_api import aio

        status, vgpu = aio._http('POST', self.aio.endpoint + '/v1/vgpus', dict(name=name, **body))
        self.assertEqual(201, status, vgpu)
        return vgpu

    def test_admin_pools_panel(self):
        # Some tenants' vGPUs, so that the charts and the slice maps have something to show.
        for i in range(3):
            self._claim('train-%d' % i, compute_percent=25, memory_mb=20480,
                        models=['A100-SXM4-80GB'])
        self._claim('infer-0', compute_percent=80, memory_mb=65536, models=['H100-SXM5-80GB'])
        self._claim('big-0', compute_percent=100, memory_mb=81920, count=2,
                    models=['A100-SXM4-80GB'])
        self.open('/admin/accelerator_pools/')
        self.wait(lambda: self.css('#pool_usage .pool-model'), 'the usage charts')
        self.assert_styled()
        models = {e.get_attribute('data-model') for e in self.css('#pool_usage .pool-model')}
        self.assertIn('A100-SXM4-80GB', models)
        self.shot('dashboard-pools-usage')
        for tab, marker, name in (('hosts', '#hosts', 'dashboard-pools-hosts'),
                                  ('devices', '#device_map', 'dashboard-pools-cards'),
                                  ('profiles', '#profiles', 'dashboard-pools-profiles'),
                                  ('quotas', '#quotas', 'dashboard-pools-quotas')):
            self.css('a[data-target="#pool_tabs__%s"]' % tab)[0].click()
            self.wait(lambda marker=marker: [e for e in self.css(marker) if e.is_displayed()],
                      'the %s tab' % tab)
            self.shot(name)
        self.assertIn('gpu-a', self.selenium.page_source)
        self.assertIn('train-0', self.selenium.page_source)  # the slice map names holders

        # What if: the recorded demand replayed by every policy, then on twice the hosts.
        self.css('a[data-target="#pool_tabs__whatif"]')[0].click()
        self.wait(lambda: [r for r in self.css('#what_if tbody tr[data-object-id]')
                           if r.is_displayed()], 'the what-if table', timeout=120)
        policies = {r.get_attribute('data-object-id')
                    for r in self.css('#what_if tbody tr[data-object-id]')}
        self.assertTrue({'binpack', 'spread', 'fgd', 'default'} <= policies, policies)
        scale = self.css('#whatif_scale')[0]
        scale.clear()
        scale.send_keys('2')
        self.css('#what_if_tab button[type=submit]')[0].click()
        self.wait(lambda: "hosts x2" in self.css('#what_if_summary')[0].text,
                  'the replay on twice the hosts', timeout=120)
        self.shot('dashboard-pools-whatif')
