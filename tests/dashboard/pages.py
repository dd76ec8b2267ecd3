"""Browser steps on the vGPUs panel shared by the browser tests (Horizon's test login,
tests/dashboard/test_browser.py) and the real-Keystone login test (tests/openstack).

``wait(condition, what)`` is the caller's polling helper: it returns the condition's first truthy
value or fails the test naming ``what``.
"""


def css(driver, selector):
    return driver.find_elements('css selector', selector)


def fill_shape(driver, wait, url, name, compute, memory):
    """Open the create form on ``url`` (the vGPUs panel) and fill it for a shape; returns it."""
    driver.get(url)
    wait(lambda: css(driver, '#vgpus__action_create'), 'the create button')[0].click()
    form = wait(lambda: [f for f in css(driver, '#create_vgpu_form') if f.is_displayed()],
                'the create form')[0]
    # NOTE: Horizon's themable select hides the native one behind a Bootstrap dropdown;
    # click the dropdown's item as a person would.
    form.find_element('css selector', '.themable-select button.dropdown-toggle').click()
    wait(lambda: [a for a in form.find_elements(
        'css selector', '.themable-select a[data-select-value="shape"]')
        if a.is_displayed()], 'the shape choice')[0].click()
    form.find_element('name', 'name').send_keys(name)
    for field, value in (('compute_percent', compute), ('memory_mb', memory)):
        box = form.find_element('name', field)
        box.clear()
        box.send_keys(str(value))
    wait(lambda: form.find_element('id', 'vgpu_quota').is_displayed(), 'the quota')
    return form


def submit(form):
    form.find_element('css selector', 'button[type=submit], input[type=submit]').click()


def row(driver, name):
    """The vGPUs table's row of ``name``, or None."""
    for tr in css(driver, '#vgpus tbody tr'):
        if tr.get_attribute('data-display') == name:
            return tr
    return None


def delete(driver, wait, name):
    """Delete ``name`` with its row action and the confirmation; wait until it is gone."""
    tr = wait(lambda: row(driver, name), 'the row of ' + name)
    tr.find_element('css selector', 'button[value$="__delete__%s"]'
                    % tr.get_attribute('data-object-id')).click()
    wait(lambda: [b for b in css(driver, '.modal-footer .btn-danger') if b.is_displayed()],
         'the confirmation')[0].click()
    wait(lambda: row(driver, name) is None or 'Deleted' in row(driver, name).text,
         name + ' to be deleted')


def error_alert(driver, wait):
    """The text of the error Horizon shows."""
    return wait(lambda: [a for a in css(driver, '.alert-danger') if a.is_displayed()],
                'the error message')[0].text
