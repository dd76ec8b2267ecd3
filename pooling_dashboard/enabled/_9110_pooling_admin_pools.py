# Admin > Compute > Accelerator pools. Copy (or link) into openstack_dashboard/local/enabled/.
PANEL = 'accelerator_pools'
PANEL_DASHBOARD = 'admin'
PANEL_GROUP = 'compute'
ADD_PANEL = 'pooling_dashboard.content.pools.panel.Pools'
# NOTE: _9100_pooling_project_vgpus.py adds the app (Horizon does not de-duplicate it); copy both.
