"""The vGPU table: columns, row and table actions, and the row refresh of transitional states."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy
from horizon import exceptions
from horizon import tables

from pooling_dashboard import api
from pooling_dashboard import policy

# Horizon polls a row whose status is None until it is True (done) or False (failed).
STATUS_CHOICES = (
    ('ACTIVE', True), ('DELETED', True), ('ERROR', False),
    ('SCHEDULED', None), ('PREPARING', None), ('RELEASING', None),
)
STATE_DISPLAY = (
    ('SCHEDULED', _("Scheduled")), ('PREPARING', _("Preparing")), ('ACTIVE', _("Active")),
    ('RELEASING', _("Releasing")), ('DELETED', _("Deleted")), ('ERROR', _("Error")),
)
LOCALITY_DISPLAY = (
    ('local', _("Local")), ('remote-allowed', _("Remote allowed")),
    ('remote-required', _("Remote required")),
)


def shape(vgpu) -> str:
    """The profile's name, else the shape, e.g. "25% · 20480 MiB" or "2 cards · 81920 MiB"."""
    if getattr(vgpu, 'profile', None):
        return vgpu.profile
    if (vgpu.count or 1) > 1:
        return _("%(count)s cards · %(memory)s MiB") % {'count': vgpu.count,
                                                         'memory': vgpu.memory_mb}
    return _("%(compute)s%% · %(memory)s MiB") % {
        'compute': ('%g' % vgpu.compute_percent), 'memory': vgpu.memory_mb}


def hosts(vgpu) -> str:
    return ', '.join(sorted({s['host'] for s in vgpu.slices or []})) or '-'


def created(vgpu) -> str:
    value = getattr(vgpu, 'created_at', None)
    return value.replace('T', ' ')[:16] if value else '-'


class CreateVgpu(tables.LinkAction):
    name = 'create'
    verbose_name = _("Create vGPU")
    url = 'horizon:project:vgpus:create'
    classes = ('ajax-modal',)
    icon = 'plus'

    def allowed(self, request, datum=None):
        return policy.check(request, 'pooling:vgpus:create')


class DeleteVgpu(tables.DeleteAction):
    @staticmethod
    def action_present(count):
        return ngettext_lazy("Delete vGPU", "Delete vGPUs", count)

    @staticmethod
    def action_past(count):
        return ngettext_lazy("Deleted vGPU", "Deleted vGPUs", count)

    def allowed(self, request, datum=None):
        if datum is not None and datum.state in ('RELEASING', 'DELETED'):
            return False
        target = {'project_id': datum.project_id} if datum is not None else None
        return policy.check(request, 'pooling:vgpus:delete', target)

    def delete(self, request, obj_id):
        api.vgpu_delete(request, obj_id)


class ShowLease(tables.LinkAction):
    """The remote lease (endpoint and token) of a remote vGPU, for those who may delete it."""

    name = 'lease'
    verbose_name = _("Show Lease")
    classes = ('btn-default',)

    def allowed(self, request, datum=None):
        return bool(datum is not None and lease(datum)
                    and policy.check(request, 'pooling:vgpus:delete',
                                     {'project_id': datum.project_id}))

    def get_link_url(self, datum):
        return reverse('horizon:project:vgpus:detail', args=[datum.uuid]) + '?tab=lease'


def lease(vgpu):
    attachment = getattr(vgpu, 'attachment', None) or {}
    return attachment.get('remote') if isinstance(attachment, dict) else None


class UpdateRow(tables.Row):
    ajax = True

    def get_data(self, request, vgpu_id):
        try:
            return api.vgpu_get(request, vgpu_id)
        except api.ApiError as err:
            if err.status == 404:
                raise exceptions.NotFound() from err
            raise


class VgpusTable(tables.DataTable):
    name = tables.WrappingColumn('name', verbose_name=_("Name"),
                                 link='horizon:project:vgpus:detail')
    shape = tables.Column(shape, verbose_name=_("Profile or shape"))
    state = tables.Column('state', verbose_name=_("State"), status=True,
                          status_choices=STATUS_CHOICES, display_choices=STATE_DISPLAY)
    locality = tables.Column('locality', verbose_name=_("Locality"),
                             display_choices=LOCALITY_DISPLAY)
    hosts = tables.Column(hosts, verbose_name=_("Host(s)"))
    isolation = tables.Column(lambda v: v.isolation or _("any"), verbose_name=_("Isolation"))
    created = tables.Column(created, verbose_name=_("Created"))

    def get_object_display(self, datum):
        return datum.name or datum.uuid

    class Meta:
        name = 'vgpus'
        verbose_name = _("vGPUs")
        status_columns = ['state']
        row_class = UpdateRow
        table_actions = (CreateVgpu, DeleteVgpu)
        row_actions = (ShowLease, DeleteVgpu)


class SlicesTable(tables.DataTable):
    """The detail page's slices: one per card."""

    index = tables.Column('index', verbose_name=_("#"))
    host = tables.Column('host', verbose_name=_("Host"))
    device = tables.Column('device_uuid', verbose_name=_("Card"))
    compute = tables.Column(lambda s: '%g%%' % s.compute_percent, verbose_name=_("Compute"))
    memory = tables.Column('memory_mb', verbose_name=_("Memory (MiB)"))
    health = tables.Column(lambda s: getattr(s, 'device_health', None) or '-',
                           verbose_name=_("Card health"))

    def get_object_id(self, datum):
        return str(datum.index)

    class Meta:
        name = 'slices'
        verbose_name = _("Slices")
