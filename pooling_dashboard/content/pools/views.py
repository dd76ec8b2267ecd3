"""Admin > Accelerator pools: one tabbed page."""

from django.utils.translation import gettext_lazy as _
from horizon import tabs

from pooling_dashboard.content.pools import tabs as pool_tabs


class IndexView(tabs.TabbedTableView):
    tab_group_class = pool_tabs.PoolTabs
    template_name = 'admin/accelerator_pools/index.html'
    page_title = _("Accelerator pools")
