"""A vGPU's detail page: overview with slices and history, and its lease when remote."""

from django.utils.translation import gettext_lazy as _
from horizon import tabs

from pooling_dashboard import api
from pooling_dashboard import policy
from pooling_dashboard.content.vgpus import tables as vgpu_tables


def history(vgpu) -> list[tuple[str, str]]:
    """What the API records of the vGPU's life: when it was asked for, its last change and why.

    NOTE: the API keeps no event log per vGPU; this is what a vGPU row carries.
    """
    events = [(vgpu.created_at, _("Requested"))]
    updated = getattr(vgpu, 'updated_at', None)
    if updated and (updated != vgpu.created_at or vgpu.state != 'SCHEDULED'):
        state = dict(vgpu_tables.STATE_DISPLAY).get(vgpu.state, vgpu.state)
        reason = (' (%s)' % vgpu.state_reason) if vgpu.state_reason else ''
        events.append((updated, '%s%s' % (state, reason)))
    return [(when.replace('T', ' ')[:19] if when else '-', what) for when, what in events]


class OverviewTab(tabs.TableTab):
    name = _("Overview")
    slug = 'overview'
    table_classes = (vgpu_tables.SlicesTable,)
    template_name = 'project/vgpus/_detail_overview.html'

    def get_slices_data(self):
        return [api.Resource(s) for s in self.tab_group.kwargs['vgpu'].slices or []]

    def get_context_data(self, request, **kwargs):
        context = super().get_context_data(request, **kwargs)
        vgpu = self.tab_group.kwargs['vgpu']
        context.update(vgpu=vgpu, shape=vgpu_tables.shape(vgpu), history=history(vgpu),
                       transitional=vgpu.state in api.TRANSITIONAL)
        return context


class LeaseTab(tabs.Tab):
    name = _("Lease")
    slug = 'lease'
    template_name = 'project/vgpus/_detail_lease.html'

    def allowed(self, request):
        vgpu = self.tab_group.kwargs['vgpu']
        return bool(vgpu_tables.lease(vgpu)) and policy.check(
            request, 'pooling:vgpus:delete', {'project_id': vgpu.project_id})

    def get_context_data(self, request):
        return {'lease': vgpu_tables.lease(self.tab_group.kwargs['vgpu'])}


class VgpuDetailTabs(tabs.DetailTabsGroup):
    slug = 'vgpu_details'
    tabs = (OverviewTab, LeaseTab)
