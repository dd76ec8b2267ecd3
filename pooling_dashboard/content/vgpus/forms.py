"""The create form: by profile or by shape, with cards, locality and isolation."""

from django.utils.translation import gettext_lazy as _
from horizon import exceptions
from horizon import forms
from horizon import messages

from pooling_dashboard import api

LOCALITIES = (
    ('remote-allowed', _("Remote allowed: any host of the fabric")),
    ('local', _("Local: on the host where the workload runs")),
)
ISOLATIONS = (
    ('', _("Any")), ('hard', _("Hard (MIG or vendor partition)")),
    ('firm', _("Firm (MPS-style limits)")), ('soft', _("Soft (API interception)")),
    ('none', _("None (time-sliced)")),
)


def _switched(source, label):
    return {'class': 'switched', 'data-switch-on': 'source',
            'data-source-%s' % source: label}


class CreateVgpuForm(forms.SelfHandlingForm):
    name = forms.CharField(max_length=255, label=_("Name"), required=False)
    source = forms.ThemableChoiceField(
        label=_("Create from"), choices=(('profile', _("A profile")), ('shape', _("A shape"))),
        widget=forms.ThemableSelectWidget(attrs={'class': 'switchable', 'data-slug': 'source'}))
    profile = forms.ThemableChoiceField(
        label=_("Profile"), required=False,
        widget=forms.ThemableSelectWidget(attrs=_switched('profile', _("Profile"))))
    compute_percent = forms.IntegerField(
        label=_("Compute (% of a card)"), min_value=1, max_value=100, required=False,
        widget=forms.NumberInput(attrs=_switched('shape', _("Compute (% of a card)"))))
    memory_mb = forms.IntegerField(
        label=_("Memory (MiB per card)"), min_value=1, required=False,
        widget=forms.NumberInput(attrs=_switched('shape', _("Memory (MiB per card)"))))
    count = forms.IntegerField(
        label=_("Cards"), min_value=1, max_value=64, initial=1, required=False,
        help_text=_("More than one card means whole cards."),
        widget=forms.NumberInput(attrs=_switched('shape', _("Cards"))))
    models = forms.CharField(
        label=_("Card models"), required=False,
        help_text=_("Comma-separated; empty for any model."),
        widget=forms.TextInput(attrs=_switched('shape', _("Card models"))))
    locality = forms.ThemableChoiceField(label=_("Locality"), choices=LOCALITIES)
    isolation = forms.ThemableChoiceField(label=_("Isolation"), choices=ISOLATIONS,
                                          required=False)

    def __init__(self, request, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        try:
            profiles = api.profile_list(request)
        except Exception:
            profiles = []
            exceptions.handle(request, _("Unable to retrieve the vGPU profiles."))
        self.fields['profile'].choices = [('', _("Select a profile"))] + [
            (p.name, '%s (%g%%, %s MiB x %s)' % (p.name, p.compute_percent, p.memory_mb,
                                                  p.count))
            for p in profiles]

    def clean(self):
        data = super().clean()
        if data.get('source') == 'profile':
            if not data.get('profile'):
                self.add_error('profile', _("Choose a profile, or create from a shape."))
        else:
            for field in ('compute_percent', 'memory_mb'):
                if data.get(field) in (None, ''):
                    self.add_error(field, _("A shape needs this."))
        return data

    def body(self, data) -> dict:
        """The API's request body for the cleaned ``data``."""
        body = {'name': data.get('name') or None, 'locality': data['locality'],
                'isolation': data.get('isolation') or None}
        if data['source'] == 'profile':
            body['profile'] = data['profile']
        else:
            body.update(compute_percent=data['compute_percent'], memory_mb=data['memory_mb'],
                        count=data.get('count') or 1)
            models = [m.strip() for m in (data.get('models') or '').split(',') if m.strip()]
            if models:
                body['models'] = models
        return body

    def handle(self, request, data):
        try:
            vgpu = api.vgpu_create(request, **self.body(data))
        except api.ApiError as err:
            # NOTE: ApiError is a recoverable exception (enabled/ ADD_EXCEPTIONS): Horizon shows
            # the API's own sentence (no capacity, quota, unknown profile ...) as an error
            # message and the form stays open with what the user typed.
            exceptions.handle(request, _("Unable to create the vGPU: %s") % err.detail)
            return False
        messages.success(request, _('Creating vGPU "%s".') % (vgpu.name or vgpu.uuid))
        return vgpu
