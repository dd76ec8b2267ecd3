"""Admin > Compute > Accelerator pools."""

from django.utils.translation import gettext_lazy as _
import horizon

from pooling_dashboard import api
from pooling_dashboard import policy


class Pools(horizon.Panel):
    name = _("Accelerator pools")
    slug = 'accelerator_pools'
    permissions = ('openstack.roles.admin',)

    def allowed(self, context):
        request = context['request']
        return (api.is_enabled(request) and policy.check(request, 'pooling:hosts:list')
                and super().allowed(context))
