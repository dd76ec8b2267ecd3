"""View tests of the Horizon plugin with Horizon's test helpers; the pool API module is mocked."""

from unittest import mock

from django.test.utils import override_settings
from django.urls import reverse
from openstack_dashboard.test import helpers

from pooling_dashboard import api
from pooling_dashboard import policy
from poolingclient import exceptions as client_exc

INDEX = reverse('horizon:project:vgpus:index')
CREATE = reverse('horizon:project:vgpus:create')
ADMIN = reverse('horizon:admin:accelerator_pools:index')


def _vgpu(name='job-1', state='ACTIVE', **kw):
    info = {'uuid': 'a1b2c3d4-0000-4000-8000-%012d' % abs(hash(name) % 10**12), 'name': name,
            'project_id': '1', 'user_id': '1', 'state': state, 'state_reason': '',
            'profile': None, 'compute_percent': 25.0, 'memory_mb': 20480, 'count': 1,
            'models': ['A100-SXM4-80GB'], 'locality': 'remote-allowed', 'isolation': None,
            'consumer': None, 'attachment': None, 'created_at': '2026-12-02T10:00:00',
            'updated_at': '2026-12-02T10:00:05',
            'slices': [{'index': 0, 'host': 'gpu-a', 'device_uuid': 'dev-0',
                        'compute_percent': 25.0, 'memory_mb': 20480,
                        'device_health': 'healthy'}]}
    info.update(kw)
    return api.Resource(info)


QUOTA = api.QuotaUsage(10, -1, 163840, 2, 50.0, 40960)
# NOTE: profiles answer compute_percent as a number (25.0), as vGPUs and devices do.
PROFILE = api.Resource({'uuid': 'p-1', 'name': 'quarter-20g', 'compute_percent': 25.0,
                        'memory_mb': 20480, 'count': 1, 'models': [], 'isolation': None,
                        'locality': 'remote-allowed', 'published': True,
                        'device_profile': 'pooling-quarter-20g'})


class VgpuViewTests(helpers.TestCase):
    def setUp(self):
        super().setUp()
        policy.reset()

    @mock.patch.object(api, 'vgpu_list')
    def test_index_lists_vgpus_with_their_columns(self, vgpu_list):
        vgpu_list.return_value = [_vgpu(), _vgpu('job-2', state='PREPARING', count=2,
                                                compute_percent=100, memory_mb=81920)]
        res = self.client.get(INDEX)
        self.assertTemplateUsed(res, 'horizon/common/_data_table_view.html')
        self.assertContains(res, 'job-1')
        self.assertContains(res, '25% · 20480 MiB')
        self.assertContains(res, '2 cards · 81920 MiB')
        self.assertContains(res, 'gpu-a')
        self.assertContains(res, '2026-12-02 10:00')
        # Horizon's table JS polls the rows of unknown status ("warning") until they settle.
        self.assertContains(res, 'class="ajax-update warning" data-display="job-2"')
        self.assertContains(res, 'class="ajax-update status_up" data-display="job-1"')
        self.assertContains(res, 'Create vGPU')  # a member may create
        vgpu_list.assert_called_once_with(mock.ANY)

    @mock.patch.object(api, 'vgpu_list')
    def test_a_reader_sees_no_create_or_delete(self, vgpu_list):
        vgpu_list.return_value = [_vgpu()]
        self.setActiveUser(id=self.user.id, token=self.token, username=self.user.name,
                           tenant_id=self.tenant.id, service_catalog=self.service_catalog,
                           roles=[{'id': '3', 'name': 'reader'}],
                           authorized_tenants=self.tenants.list())
        res = self.client.get(INDEX)
        self.assertContains(res, 'job-1')
        self.assertNotContains(res, 'Create vGPU')
        self.assertNotContains(res, 'Delete vGPU')

    @mock.patch.object(api, 'vgpu_list')
    def test_an_api_error_is_shown_as_horizon_shows_errors(self, vgpu_list):
        vgpu_list.side_effect = client_exc.ApiError(503, 'The pool is down for maintenance.')
        res = self.client.get(INDEX)
        self.assertEqual(200, res.status_code)
        self.assertMessageCount(res, error=1)

    @mock.patch.object(api, 'quota_usage')
    @mock.patch.object(api, 'profile_list')
    def test_create_form_shows_profiles_and_quota(self, profile_list, quota_usage):
        profile_list.return_value = [PROFILE]
        quota_usage.return_value = QUOTA
        res = self.client.get(CREATE)
        self.assertTemplateUsed(res, 'project/vgpus/_create.html')
        self.assertContains(res, 'quarter-20g (25%, 20480 MiB x 1)')
        self.assertContains(res, '2 of 10 used')
        self.assertContains(res, '40960 MiB of 163840 MiB used')
        self.assertContains(res, '50% used, no limit')

    @mock.patch.object(api, 'vgpu_create')
    @mock.patch.object(api, 'quota_usage')
    @mock.patch.object(api, 'profile_list')
    def test_create_by_shape_sends_the_api_fields(self, profile_list, quota_usage, create):
        profile_list.return_value = [PROFILE]
        quota_usage.return_value = QUOTA
        create.return_value = _vgpu('new', state='SCHEDULED')
        res = self.client.post(CREATE, {'name': 'new', 'source': 'shape', 'compute_percent': 25,
                                        'memory_mb': 20480, 'count': 1,
                                        'models': 'A100-SXM4-80GB, H100',
                                        'locality': 'local', 'isolation': 'hard'})
        self.assertNoFormErrors(res)
        self.assertRedirectsNoFollow(res, INDEX)
        create.assert_called_once_with(mock.ANY, name='new', locality='local', isolation='hard',
                                       compute_percent=25, memory_mb=20480, count=1,
                                       models=['A100-SXM4-80GB', 'H100'])

    @mock.patch.object(api, 'vgpu_create')
    @mock.patch.object(api, 'quota_usage')
    @mock.patch.object(api, 'profile_list')
    def test_create_by_profile(self, profile_list, quota_usage, create):
        profile_list.return_value = [PROFILE]
        quota_usage.return_value = QUOTA
        create.return_value = _vgpu('p', profile='quarter-20g')
        res = self.client.post(CREATE, {'source': 'profile', 'profile': 'quarter-20g',
                                        'locality': 'remote-allowed'})
        self.assertNoFormErrors(res)
        create.assert_called_once_with(mock.ANY, name=None, locality='remote-allowed',
                                       isolation=None, profile='quarter-20g')

    @mock.patch.object(api, 'vgpu_create')
    @mock.patch.object(api, 'quota_usage')
    @mock.patch.object(api, 'profile_list')
    def test_a_shape_without_memory_is_refused_by_the_form(self, profile_list, quota_usage,
                                                           create):
        profile_list.return_value = []
        quota_usage.return_value = QUOTA
        res = self.client.post(CREATE, {'source': 'shape', 'compute_percent': 25,
                                        'locality': 'local'})
        self.assertFormErrors(res, 1, 'A shape needs this.')
        create.assert_not_called()

    @mock.patch.object(api, 'vgpu_create')
    @mock.patch.object(api, 'quota_usage')
    @mock.patch.object(api, 'profile_list')
    def test_no_capacity_keeps_the_form_and_says_why(self, profile_list, quota_usage, create):
        profile_list.return_value = []
        quota_usage.return_value = QUOTA
        create.side_effect = client_exc.Conflict(
            409, 'No capacity: no healthy device of any model with 25 % compute and '
                 '999999 MiB free.')
        res = self.client.post(CREATE, {'source': 'shape', 'compute_percent': 25,
                                        'memory_mb': 999999, 'locality': 'local'})
        self.assertEqual(200, res.status_code)
        self.assertTemplateUsed(res, 'project/vgpus/_create.html')
        self.assertMessageCount(res, error=1)

    @mock.patch.object(api, 'vgpu_get')
    def test_detail_shows_slices_history_and_lease(self, vgpu_get):
        remote = {'remote': {'endpoint': 'gpu-a:7443', 'token': 's3cret'}}
        vgpu_get.return_value = _vgpu(attachment=remote, state_reason='prepared')
        res = self.client.get(reverse('horizon:project:vgpus:detail', args=['x']))
        self.assertTemplateUsed(res, 'project/vgpus/_detail_overview.html')
        self.assertContains(res, 'dev-0')
        self.assertContains(res, '2026-12-02 10:00:00')
        self.assertContains(res, 'Active (prepared)')
        self.assertContains(res, 's3cret')  # a member of the project may see its lease

    @mock.patch.object(api, 'vgpu_get')
    def test_a_transitional_detail_page_polls_itself(self, vgpu_get):
        vgpu_get.return_value = _vgpu(state='PREPARING')
        url = reverse('horizon:project:vgpus:detail', args=['x'])
        self.assertContains(self.client.get(url), 'data-refresh="true"')
        self.assertContains(self.client.get(url), 'DOMParser')
        vgpu_get.return_value = _vgpu(state='ACTIVE')
        self.assertNotContains(self.client.get(url), 'DOMParser')

    @mock.patch.object(api, 'vgpu_get')
    def test_a_reader_does_not_see_the_lease(self, vgpu_get):
        vgpu_get.return_value = _vgpu(attachment={'remote': {'token': 's3cret'}})
        self.setActiveUser(id=self.user.id, token=self.token, username=self.user.name,
                           tenant_id=self.tenant.id, service_catalog=self.service_catalog,
                           roles=[{'id': '3', 'name': 'reader'}],
                           authorized_tenants=self.tenants.list())
        res = self.client.get(reverse('horizon:project:vgpus:detail', args=['x']))
        self.assertContains(res, 'dev-0')
        self.assertNotContains(res, 's3cret')

    @mock.patch.object(api, 'vgpu_get')
    def test_row_refresh_returns_the_row(self, vgpu_get):
        vgpu_get.return_value = _vgpu(state='ACTIVE')
        url = INDEX + '?action=row_update&table=vgpus&obj_id=x'
        res = self.client.get(url, HTTP_X_REQUESTED_WITH='XMLHttpRequest')
        self.assertContains(res, 'status_up')
        self.assertContains(res, 'Active')

    @override_settings(POOLING_API_URL=None)
    @mock.patch.object(api, 'vgpu_list')
    def test_panel_hides_without_a_pool_endpoint(self, vgpu_list):
        # The test catalog has no accelerator-pool endpoint.
        self.assertFalse(api.is_enabled(self.request))
        res = self.client.get(INDEX)
        self.assertNotEqual(200, res.status_code)
        vgpu_list.assert_not_called()

    @mock.patch.object(api, 'usage')
    def test_a_member_has_no_admin_panel(self, usage):
        res = self.client.get(ADMIN)
        self.assertNotEqual(200, res.status_code)
        usage.assert_not_called()


def _usage():
    return [{'pool': 'default', 'model': 'A100-SXM4-80GB', 'devices': 2,
             'capacity': {'compute_percent': 200.0, 'memory_mb': 163840},
             'allocated': {'compute_percent': 25.0, 'memory_mb': 20480},
             'free': {'compute_percent': 175.0, 'memory_mb': 143360},
             'stranded': {'compute_percent': 75.0, 'memory_mb': 4096},
             'common_shapes': []}]


class AdminViewTests(helpers.BaseAdminViewTests):
    def setUp(self):
        super().setUp()
        policy.reset()

    @mock.patch.object(api, 'quota_list')
    @mock.patch.object(api, 'profile_list')
    @mock.patch.object(api, 'vgpu_list')
    @mock.patch.object(api, 'device_list')
    @mock.patch.object(api, 'host_list')
    @mock.patch.object(api, 'usage')
    def test_pools_page_has_charts_hosts_cards_profiles_quotas(
            self, usage, host_list, device_list, vgpu_list, profile_list, quota_list):
        usage.return_value = _usage()
        host_list.return_value = [api.Resource({
            'uuid': 'h', 'name': 'gpu-a', 'pool': 'default', 'fabric': 'fab-1', 'state': 'up',
            'device_count': 2, 'last_heartbeat': '2026-12-02T10:00:00'})]
        device_list.return_value = [api.Resource({'uuid': 'dev-0', 'host': 'gpu-a',
                                                  'model': 'A100-SXM4-80GB',
                                                  'health': 'healthy'}),
                                    api.Resource({'uuid': 'dev-1', 'host': 'gpu-a',
                                                  'model': 'A100-SXM4-80GB',
                                                  'health': 'unhealthy'})]
        vgpu_list.return_value = [_vgpu()]
        profile_list.return_value = [PROFILE]
        quota_list.return_value = [api.Resource({
            'project_id': '1', 'vgpus': 10, 'memory_mb': -1, 'compute_percent': -1,
            'usage': {'vgpus': 1, 'memory_mb': 20480, 'compute_percent': 25.0}})]
        res = self.client.get(ADMIN)
        self.assertTemplateUsed(res, 'admin/accelerator_pools/index.html')
        # chart: allocated 12.5 %, usable free 50 %, stranded 37.5 % of two cards
        self.assertContains(res, 'width: 12.5%')
        self.assertContains(res, 'width: 37.5%')
        self.assertContains(res, '25% · 20480 MiB x 1')
        self.assertContains(res, '1 of 2 cards healthy')
        self.assertContains(res, 'fab-1')
        self.assertContains(res, 'title="job-1 (1): 25%, 20480 MiB"')  # slice map
        self.assertContains(res, 'Published as pooling-quarter-20g')
        self.assertContains(res, '1 / 10')
        vgpu_list.assert_called_with(mock.ANY, all_projects=True)


class WhatIfViewTests(helpers.BaseAdminViewTests):
    @mock.patch.object(api, 'quota_list', return_value=[])
    @mock.patch.object(api, 'profile_list', return_value=[])
    @mock.patch.object(api, 'vgpu_list', return_value=[])
    @mock.patch.object(api, 'device_list', return_value=[])
    @mock.patch.object(api, 'host_list', return_value=[])
    @mock.patch.object(api, 'usage', return_value=[])
    @mock.patch.object(api, 'what_if')
    def test_what_if_tab_replays_with_the_asked_hardware(self, what_if, *_others):
        stats = {'mean': 4.5, 'sd': 0.25, 'per_seed': [4.25, 4.75]}
        what_if.return_value = {
            'demand': 'vGPUs recorded in the pool', 'arrivals_recorded': 21,
            'hardware': "the pool's hosts x2", 'cards': {'A100': 8}, 'capacity_gpus': 8.0,
            'seeds': [42, 43], 'common_shapes': [],
            'policies': {'fgd': {'unallocated_pct_at_100': stats,
                                 'alloc_pct_at_first_failure': stats,
                                 'failures': {'fragmentation': 3, 'impossible': 1},
                                 'more_that_fit': {'25% 20480 MiB': 2.5}, 'curve': []}}}
        res = self.client.get(ADMIN + '?tab=pool_tabs__whatif&scale=2')
        self.assertContains(res, '4.50 ± 0.25 %')
        self.assertContains(res, '25% 20480 MiB: 2.5')
        self.assertContains(res, '3 / 1')
        self.assertContains(res, "the pool&#x27;s hosts x2")
        what_if.assert_called_once_with(mock.ANY, scale='2', cards='')


def test_the_plugin_runs_on_horizon_27():
    """The issue targets Horizon 27; the 2026.2 constraints pin 26, so ci-deps.sh leaves that
    one pin out. This fails if an install falls back to the constraints' Horizon."""
    from importlib import metadata
    assert metadata.version('horizon').split('.')[0] == '27'
