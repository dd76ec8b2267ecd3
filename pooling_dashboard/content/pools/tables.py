"""Admin tables: hosts, profiles and quotas of the pool."""

from django.utils.translation import gettext_lazy as _
from horizon import tables

HOST_STATUS = (('up', True), ('down', False))


def heartbeat(host):
    value = getattr(host, 'last_heartbeat', None)
    return value.replace('T', ' ')[:19] if value else _("never")


def health(host) -> str:
    """The cards' health on a host (the view adds ``healthy_devices``)."""
    total = host.device_count
    if not total:
        return _("no cards")
    return _("%(ok)s of %(total)s cards healthy") % {'ok': host.healthy_devices, 'total': total}


class HostsTable(tables.DataTable):
    name = tables.Column('name', verbose_name=_("Host"))
    pool = tables.Column('pool', verbose_name=_("Pool"))
    fabric = tables.Column(lambda h: h.fabric or '-', verbose_name=_("Fabric"))
    state = tables.Column('state', verbose_name=_("State"), status=True,
                          status_choices=HOST_STATUS)
    heartbeat = tables.Column(heartbeat, verbose_name=_("Last heartbeat"))
    health = tables.Column(health, verbose_name=_("Health"))

    def get_object_id(self, datum):
        return datum.name

    class Meta:
        name = 'hosts'
        verbose_name = _("Hosts")
        status_columns = ['state']


class ProfilesTable(tables.DataTable):
    name = tables.Column('name', verbose_name=_("Profile"))
    shape = tables.Column(lambda p: '%g%% · %s MiB x %s' % (p.compute_percent, p.memory_mb,
                                                              p.count),
                          verbose_name=_("Shape"))
    locality = tables.Column('locality', verbose_name=_("Locality"))
    published = tables.Column(
        lambda p: (_("Published as %s") % p.device_profile) if getattr(p, 'published', False)
        else _("Not published"), verbose_name=_("Cyborg device profile"))

    class Meta:
        name = 'profiles'
        verbose_name = _("Profiles")


def _limit(value, unit=''):
    return _("unlimited") if value is None or value < 0 else '%s%s' % (value, unit)


class QuotasTable(tables.DataTable):
    project = tables.Column('project_id', verbose_name=_("Project"))
    vgpus = tables.Column(lambda q: '%s / %s' % (q.usage['vgpus'], _limit(q.vgpus)),
                          verbose_name=_("vGPUs used / limit"))
    compute = tables.Column(
        lambda q: '%g%% / %s' % (q.usage['compute_percent'], _limit(q.compute_percent, '%')),
        verbose_name=_("Compute used / limit"))
    memory = tables.Column(
        lambda q: '%s / %s' % (q.usage['memory_mb'], _limit(q.memory_mb, ' MiB')),
        verbose_name=_("Memory (MiB) used / limit"))

    def get_object_id(self, datum):
        return datum.project_id

    class Meta:
        name = 'quotas'
        verbose_name = _("Quotas per project")


def _stat(res, key, unit='%'):
    value = res[key]
    if value['mean'] is None:
        return '-'
    return '%.2f ± %.2f %s' % (value['mean'], value['sd'] or 0, unit)


class WhatIfTable(tables.DataTable):
    policy = tables.Column('policy', verbose_name=_("Policy"))
    unallocated = tables.Column(lambda r: _stat(r.result, 'unallocated_pct_at_100'),
                                verbose_name=_("Unallocated at full demand"))
    first_failure = tables.Column(
        lambda r: _stat(r.result, 'alloc_pct_at_first_failure'),
        verbose_name=_("Allocated at first refusal"))
    more = tables.Column(
        lambda r: '; '.join('%s: %.1f' % kv for kv in r.result['more_that_fit'].items()),
        verbose_name=_("More of the common shapes that still fit"))
    failures = tables.Column(
        lambda r: '%(fragmentation)s / %(impossible)s' % r.result['failures'],
        verbose_name=_("Refused: fragmentation / impossible"))

    def get_object_id(self, datum):
        return datum.policy

    class Meta:
        name = 'what_if'
        verbose_name = _("What if")
