"""The Horizon plugin with a real Keystone login: the e2e stack's Keystone and pool.

Horizon (its own process, Django's runserver with ``tests/openstack/horizon_settings.py``)
authenticates against the stack's Keystone; headless Chromium signs in on Horizon's login form
as the ``demo`` user and opens Project -> Compute -> vGPUs, which the plugin fills from the
catalog's ``accelerator-pool`` endpoint with the user's token. A vGPU the demo project made
through the API shows there, one of another project does not; a vGPU created through the form
becomes ACTIVE and is deleted; a shape no card holds fails with the API's sentence; a wrong
password is refused. The browser tests with Horizon's test login are in
tests/dashboard/test_browser.py.

Needs the stack (``tests/openstack/run.sh``), Horizon and selenium in the Python that runs the
tests or in the repository's .venv, and Debian's chromium and chromium-driver.
"""

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest

from tests.dashboard import pages
from tests.openstack import cloud

ROOT = cloud.ROOT
CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')
CHROMEDRIVER = shutil.which('chromedriver')
VENV_PY = os.path.join(ROOT, '.venv', 'bin', 'python')
HORIZON_PY = sys.executable if importlib.util.find_spec('openstack_dashboard') else VENV_PY
SHOTS = os.environ.get('POOLING_SCREENSHOT_DIR') or tempfile.mkdtemp(prefix='pooling-shots-')
V = {'OpenStack-API-Version': 'accelerator-pool 1.3'}

pytestmark = [
    pytest.mark.openstack,
    pytest.mark.skipif(not cloud.stack_is_up(), reason='e2e stack not running (tox -e openstack)'),
    pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                       reason='needs Debian chromium and chromium-driver (tools/ci-deps.sh)'),
    pytest.mark.skipif(importlib.util.find_spec('selenium') is None,
                       reason='needs selenium (pip install .[dashboard])'),
]


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='module')
def horizon(tmp_path_factory):
    if not os.path.exists(HORIZON_PY) or subprocess.run(
            [HORIZON_PY, '-c', 'import openstack_dashboard, pooling_dashboard'],
            capture_output=True).returncode:
        pytest.skip('Horizon is not installed (bash tools/ci-deps.sh)')
    port = _free_port()
    log = open(tmp_path_factory.mktemp('horizon') / 'horizon.log', 'w+')
    env = dict(os.environ, DJANGO_SETTINGS_MODULE='tests.openstack.horizon_settings',
               PYTHONPATH=ROOT, PYTHONWARNINGS='ignore')
    proc = subprocess.Popen(
        [HORIZON_PY, '-m', 'django', 'runserver', '--noreload', '--insecure',
         '127.0.0.1:%d' % port], cwd=ROOT, env=env, stdout=log,
        stderr=subprocess.STDOUT)
    url = 'http://127.0.0.1:%d' % port
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(url + '/auth/login/', timeout=5).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                log.seek(0)
                raise AssertionError('Horizon did not start:\n' + log.read()[-3000:]) from None
            time.sleep(1)
    yield url
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


@pytest.fixture(scope='module')
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
                '--no-first-run', '--window-size=1400,1000'):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(240)  # the first page compiles the theme's SCSS
    yield driver
    driver.quit()


def _wait(browser, condition, what, timeout=90):
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        try:
            found = condition()
            if found:
                return found
        except Exception as err:  # the page is changing under us
            last = err
        time.sleep(0.5)
    os.makedirs(SHOTS, exist_ok=True)
    browser.save_screenshot(os.path.join(SHOTS, 'timeout-keystone-login.png'))
    raise AssertionError('timed out waiting for %s (%s)' % (what, last))


def test_demo_logs_in_with_keystone_and_sees_the_vgpus_panel(horizon, browser):
    demo = cloud.Cloud('demo', 'demo')
    admin = cloud.Cloud('admin', 'admin')
    pool = demo.api('accelerator-pool')
    name = 'kslogin-%d' % os.getpid()
    form_name = 'ksform-%d' % os.getpid()
    made = pool.post('/v1/vgpus', json={'name': name, 'compute_percent': 10,
                                        'memory_mb': 1024}, headers=V)
    assert made.status_code == 201, made.text
    other = admin.api('accelerator-pool').post(
        '/v1/vgpus', json={'name': name + '-admin', 'compute_percent': 10, 'memory_mb': 1024},
        headers=V)
    assert other.status_code == 201, other.text
    try:
        css = browser.find_elements
        browser.get(horizon + '/auth/login/')
        _wait(browser, lambda: css('css selector', '#id_username'), 'the login form')
        browser.find_element('id', 'id_username').send_keys('demo')
        browser.find_element('id', 'id_password').send_keys(cloud.PASSWORD)
        browser.find_element('css selector', 'form button[type=submit]').click()
        _wait(browser, lambda: '/auth/login' not in browser.current_url, 'the login to pass')
        browser.get(horizon + '/project/vgpus/')
        table = _wait(browser, lambda: css('css selector', 'table#vgpus'), 'the vGPUs table')[0]
        _wait(browser, lambda: name in table.text, 'the demo vGPU in the table')
        assert name + '-admin' not in browser.page_source  # another project's vGPU
        assert 'demo' in css('css selector', '.navbar')[0].text  # the signed-in user
        assert not css('css selector', '.alert-danger'), browser.page_source[:2000]
        os.makedirs(SHOTS, exist_ok=True)
        browser.save_screenshot(os.path.join(SHOTS, 'vgpus-keystone-login.png'))

        # Through the form, with the Keystone user's token: created, ACTIVE, deleted.
        def wait(condition, what):
            return _wait(browser, condition, what)
        panel = horizon + '/project/vgpus/'
        pages.submit(pages.fill_shape(browser, wait, panel, form_name, 10, 1024))
        wait(lambda: pages.row(browser, form_name), 'the new row')
        wait(lambda: 'Active' in pages.row(browser, form_name).text, 'the form vGPU Active')
        assert 'e2e-host' in pages.row(browser, form_name).text
        made_by_form = [v for v in pool.get('/v1/vgpus', headers=V).json()['vgpus']
                        if v['name'] == form_name]
        assert [v['state'] for v in made_by_form] == ['ACTIVE']
        pages.delete(browser, wait, form_name)

        def gone():
            resp = pool.get('/v1/vgpus/%s' % made_by_form[0]['uuid'], headers=V)
            return resp.status_code == 404 or resp.json()['state'] == 'DELETED'
        wait(gone, 'the form vGPU DELETED in the API')
        # A shape no card holds fails with the API's own sentence and leaves no row.
        pages.submit(pages.fill_shape(browser, wait, panel, 'ks-too-big', 10, 900000))
        alert = pages.error_alert(browser, wait)
        assert 'Unable to create the vGPU' in alert and '900000' in alert, alert
        assert pages.row(browser, 'ks-too-big') is None

        # A wrong password is refused by Keystone, as Horizon shows it.
        # NOTE: a fresh browser session (Horizon's logout is a POST from the user menu; the
        # session lives in a signed cookie, so dropping the cookies signs out).
        browser.delete_all_cookies()
        browser.get(horizon + '/auth/login/')
        _wait(browser, lambda: css('css selector', '#id_username'), 'the login form again')
        browser.find_element('id', 'id_username').send_keys('demo')
        browser.find_element('id', 'id_password').send_keys('not-the-password')
        browser.find_element('css selector', 'form button[type=submit]').click()
        _wait(browser, lambda: 'Invalid credentials' in browser.page_source,
              'the refused login')
    finally:
        for left in pool.get('/v1/vgpus', headers=V).json()['vgpus']:
            if left['name'] == form_name and left['state'] != 'DELETED':
                pool.delete('/v1/vgpus/%s' % left['uuid'], headers=V)
        pool.delete('/v1/vgpus/%s' % made.json()['uuid'], headers=V)
        admin.api('accelerator-pool').delete('/v1/vgpus/%s' % other.json()['uuid'], headers=V)
