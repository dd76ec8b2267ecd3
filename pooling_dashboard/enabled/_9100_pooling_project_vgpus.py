# Project > Compute > vGPUs. Copy (or link) into openstack_dashboard/local/enabled/.
from pooling_dashboard import exceptions

PANEL = 'vgpus'
PANEL_DASHBOARD = 'project'
PANEL_GROUP = 'compute'
ADD_PANEL = 'pooling_dashboard.content.vgpus.panel.Vgpus'
ADD_INSTALLED_APPS = ['pooling_dashboard']
ADD_EXCEPTIONS = {
    'recoverable': exceptions.RECOVERABLE,
    'not_found': exceptions.NOT_FOUND,
    'unauthorized': exceptions.UNAUTHORIZED,
}
AUTO_DISCOVER_STATIC_FILES = True
