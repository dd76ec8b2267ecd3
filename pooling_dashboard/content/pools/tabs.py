"""The tabs of Admin > Accelerator pools: usage charts, hosts, cards with their slice maps,
profiles and quotas."""

from django.utils.translation import gettext_lazy as _
from horizon import exceptions
from horizon import tabs

from pooling_dashboard import api
from pooling_dashboard.content.pools import tables as pool_tables


def _bar(entry) -> list[dict]:
    """Chart segments of one pool/model: allocated, free usable, stranded (% of capacity)."""
    cap = entry['capacity']['compute_percent'] or 1
    allocated = entry['allocated']['compute_percent']
    stranded = entry['stranded']['compute_percent']
    usable = max(0.0, entry['free']['compute_percent'] - stranded)
    return [{'kind': kind, 'label': label, 'pct': round(value / cap * 100, 2),
             'cards': value / 100}
            for kind, label, value in (('allocated', _("allocated"), allocated),
                                       ('free', _("free"), usable),
                                       ('stranded', _("stranded"), stranded))]


class UsageTab(tabs.Tab):
    name = _("Usage")
    slug = 'usage'
    template_name = 'admin/accelerator_pools/_usage.html'

    def get_context_data(self, request):
        try:
            usage = api.usage(request)
        except Exception:
            usage = []
            exceptions.handle(request, _("Unable to retrieve the pool's usage."))
        for entry in usage:
            entry['bar'] = _bar(entry)
        return {'usage': usage}


class HostsTab(tabs.TableTab):
    name = _("Hosts")
    slug = 'hosts'
    table_classes = (pool_tables.HostsTable,)
    template_name = 'horizon/common/_detail_table.html'

    def get_hosts_data(self):
        request = self.request
        try:
            hosts = api.host_list(request)
            devices = api.device_list(request)
        except Exception:
            exceptions.handle(request, _("Unable to retrieve the pool's hosts."))
            return []
        for host in hosts:
            host.healthy_devices = sum(1 for d in devices
                                       if d.host == host.name and d.health == 'healthy')
        return hosts


def slice_map(device, holders) -> list[dict]:
    """Segments of one card: each slice with its vGPU and project, then what is free."""
    segments = []
    for s in holders.get(device.uuid, []):
        segments.append({'pct': s['compute_percent'], 'vgpu': s['vgpu'],
                         'project': s['project_id'], 'memory_mb': s['memory_mb'],
                         'title': '%s (%s): %g%%, %s MiB' % (s['vgpu'], s['project_id'],
                                                             s['compute_percent'],
                                                             s['memory_mb'])})
    used = sum(s['pct'] for s in segments)
    free = max(0.0, 100.0 - used)  # a card is 100 % compute
    return segments, free


class DevicesTab(tabs.Tab):
    name = _("Cards")
    slug = 'devices'
    template_name = 'admin/accelerator_pools/_devices.html'

    def get_context_data(self, request):
        try:
            devices = api.device_list(request)
            vgpus = api.vgpu_list(request, all_projects=True)
        except Exception:
            exceptions.handle(request, _("Unable to retrieve the pool's cards."))
            return {'devices': []}
        holders = {}
        for v in vgpus:
            if v.state == 'DELETED':
                continue
            for s in v.slices or []:
                holders.setdefault(s['device_uuid'], []).append(
                    dict(s, vgpu=v.name or v.uuid, project_id=v.project_id))
        rows = []
        for d in devices:
            segments, free = slice_map(d, holders)
            rows.append({'device': d, 'segments': segments, 'free': free})
        return {'devices': rows}


class ProfilesTab(tabs.TableTab):
    name = _("Profiles")
    slug = 'profiles'
    table_classes = (pool_tables.ProfilesTable,)
    template_name = 'horizon/common/_detail_table.html'

    def get_profiles_data(self):
        try:
            return api.profile_list(self.request)
        except Exception:
            exceptions.handle(self.request, _("Unable to retrieve the profiles."))
            return []


class QuotasTab(tabs.TableTab):
    name = _("Quotas")
    slug = 'quotas'
    table_classes = (pool_tables.QuotasTable,)
    template_name = 'horizon/common/_detail_table.html'

    def get_quotas_data(self):
        """Quotas of every project that has vGPUs, and of the admin's own project."""
        request = self.request
        try:
            projects = {v.project_id for v in api.vgpu_list(request, all_projects=True)}
            projects.add(request.user.project_id)
            return api.quota_list(request, sorted(projects))
        except Exception:
            exceptions.handle(request, _("Unable to retrieve the quotas."))
            return []


class WhatIfTab(tabs.TableTab):
    """Replay the pool's recorded demand with every policy, on its hosts, N x them or other
    cards (pooling-manage what-if, through GET /v1/usage/what-if)."""

    name = _("What if")
    slug = 'whatif'
    table_classes = (pool_tables.WhatIfTable,)
    template_name = 'admin/accelerator_pools/_whatif.html'
    preload = False  # a replay takes a moment: run it when the tab is opened

    def _asked(self):
        get = self.request.GET
        scale = get.get('scale') or '1'
        return {'scale': scale if scale.isdigit() else '1', 'cards': get.get('cards', '')}

    def get_what_if_data(self):
        asked = self._asked()
        try:
            report = api.what_if(self.request, scale=asked['scale'], cards=asked['cards'])
        except Exception:
            exceptions.handle(self.request, _("Unable to run the what-if replay."))
            self._report = None
            return []
        self._report = report
        return [api.Resource({'policy': name, 'result': res})
                for name, res in report['policies'].items()]

    def get_context_data(self, request, **kwargs):
        context = super().get_context_data(request, **kwargs)
        context.update(asked=self._asked(), report=getattr(self, '_report', None))
        return context


class PoolTabs(tabs.TabGroup):
    slug = 'pool_tabs'
    tabs = (UsageTab, HostsTab, DevicesTab, ProfilesTab, QuotasTab, WhatIfTab)
    sticky = True
