"""Views of Project > Compute > vGPUs: the table, the create form, a vGPU's detail."""

from django.urls import reverse
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _
from horizon import exceptions
from horizon import forms
from horizon import tables
from horizon import tabs

from pooling_dashboard import api
from pooling_dashboard.content.vgpus import forms as vgpu_forms
from pooling_dashboard.content.vgpus import tables as vgpu_tables
from pooling_dashboard.content.vgpus import tabs as vgpu_tabs


class IndexView(tables.DataTableView):
    table_class = vgpu_tables.VgpusTable
    page_title = _("vGPUs")

    def get_data(self):
        try:
            return api.vgpu_list(self.request)
        except Exception:
            exceptions.handle(self.request, _("Unable to retrieve vGPUs."))
            return []


class CreateView(forms.ModalFormView):
    form_class = vgpu_forms.CreateVgpuForm
    form_id = 'create_vgpu_form'
    template_name = 'project/vgpus/create.html'
    modal_header = _("Create vGPU")
    submit_label = _("Create vGPU")
    submit_url = reverse_lazy('horizon:project:vgpus:create')
    success_url = reverse_lazy('horizon:project:vgpus:index')
    page_title = _("Create vGPU")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        try:
            context['usage'] = api.quota_usage(self.request)
        except Exception:
            exceptions.handle(self.request, _("Unable to retrieve the project's vGPU quota."))
        return context


class DetailView(tabs.TabView):
    tab_group_class = vgpu_tabs.VgpuDetailTabs
    template_name = 'horizon/common/_detail.html'
    page_title = '{{ vgpu.name|default:vgpu.uuid }}'

    def get_data(self):
        vgpu_id = self.kwargs['vgpu_id']
        try:
            return api.vgpu_get(self.request, vgpu_id)
        except Exception:
            exceptions.handle(self.request, _("Unable to retrieve vGPU %s.") % vgpu_id,
                              redirect=reverse('horizon:project:vgpus:index'))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        vgpu = self.get_data()
        table = vgpu_tables.VgpusTable(self.request)
        context['vgpu'] = vgpu
        context['url'] = reverse('horizon:project:vgpus:index')
        context['actions'] = table.render_row_actions(vgpu)
        return context

    def get_tabs(self, request, *args, **kwargs):
        return self.tab_group_class(request, vgpu=self.get_data(), **kwargs)
