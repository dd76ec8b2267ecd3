"""Project > Compute > vGPUs."""

from django.utils.translation import gettext_lazy as _
import horizon

from pooling_dashboard import api
from pooling_dashboard import policy


class Vgpus(horizon.Panel):
    name = _("vGPUs")
    slug = 'vgpus'

    def allowed(self, context):
        request = context['request']
        return (api.is_enabled(request) and policy.check(request, 'pooling:vgpus:list')
                and super().allowed(context))
