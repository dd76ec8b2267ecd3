"""[cyborg], [placement] and [nova] options: whether the conductor keeps Cyborg and
Placement in step with the pool, and how it reaches them and Nova.

Registered on the ConfigOpts the caller passes (no global CONF). ``list_opts``
feeds oslo-config-generator; ``register_opts`` is what pooling.conf calls.
``[placement]`` holds only keystoneauth options (service_type ``placement``);
without an ``auth_type`` there, the ``[cyborg]`` service user is used.
``[nova]`` likewise (service_type ``compute``): the reconciler reads the name of
the server a bound ARQ belongs to, to name its vGPU after it, within
``[nova] timeout`` seconds (default 5).
"""

from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

GROUP = 'cyborg'
PLACEMENT_GROUP = 'placement'
NOVA_GROUP = 'nova'
# NOTE: a Nova that does not answer must not stall a sync pass (pooling.cyborg.nova).
NOVA_TIMEOUT = 5

OPTS = [
    cfg.BoolOpt('enabled', default=False,
                help='Publish pool profiles as Cyborg device profiles and turn bound ARQs '
                     'into vGPUs (pooling-conductor), and serve the Cyborg driver its slots.'),
    cfg.StrOpt('profile_prefix', default='pool-',
               help='Prefix of the Cyborg device profiles this pool owns; the publisher '
                    'creates, updates and deletes only profiles with this prefix.'),
    cfg.IntOpt('max_slots_per_profile', default=16, min=1, max=256,
               help='Most slots one host reports for one profile (Cyborg keeps one attach '
                    'handle per slot).'),
    cfg.IntOpt('held_slots_per_profile', default=0, min=0, max=256,
               help='0: Nova is offered what the pool has free, kept in step with Placement '
                    'every sync pass; capacity taken through another platform within one '
                    'pass can still be bound by Nova, and that bind is recorded as a vGPU in '
                    'ERROR. N > 0: the pool holds N vGPUs of each profile for each Nova '
                    'compute host and offers Nova only those, so every bind fits and a '
                    'server that does not fit is refused by Placement (Nova reschedules), '
                    'at the cost of N held slots per host and profile.'),
    # NOTE: Placement is the only gate Nova reschedules on, and each pass
    # sets our deployables' ``reserved`` from the pool. Capacity taken through
    # another platform is over-offered to Nova for up to one interval, so it
    # is short; a pass costs one Placement GET when nothing changed.
    cfg.IntOpt('sync_interval', default=5, min=1,
               help='Seconds between two sync passes (publish profiles, reconcile ARQs, '
                    'set the reserved inventory of our Placement resource providers). '
                    'Capacity taken through another platform stays offered to Nova for '
                    'up to this long.'),
    cfg.IntOpt('published_cache_seconds', default=10, min=0,
               help='How long pooling-api trusts its last look at which device profiles '
                    'Cyborg has (for the "published" field of /v1/profiles).'),
]


def _ks_opts():
    return (ks_loading.get_session_conf_options()
            + ks_loading.get_auth_common_conf_options()
            + ks_loading.get_auth_plugin_conf_options('password')
            + ks_loading.get_adapter_conf_options(include_deprecated=False))


def _register_ks(conf, group, service_type):
    ks_loading.register_session_conf_options(conf, group)
    ks_loading.register_auth_conf_options(conf, group)
    ks_loading.register_adapter_conf_options(conf, group, include_deprecated=False)
    conf.set_default('service_type', service_type, group=group)
    conf.set_default('valid_interfaces', ['internal', 'public'], group=group)


def register_opts(conf):
    conf.register_opts(OPTS, group=GROUP)
    _register_ks(conf, GROUP, 'accelerator')
    _register_ks(conf, PLACEMENT_GROUP, 'placement')
    _register_ks(conf, NOVA_GROUP, 'compute')


def _unique(opts):
    seen, merged = set(), []
    for opt in opts:
        if opt.dest not in seen:
            seen.add(opt.dest)
            merged.append(opt)
    return merged


def list_opts():
    """[(group, opts)] for oslo-config-generator, keystoneauth options included."""
    return [(GROUP, _unique(OPTS + _ks_opts())), (PLACEMENT_GROUP, _unique(_ks_opts())),
            (NOVA_GROUP, _unique(_ks_opts()))]


def load_adapter(conf, group: str, creds_group: str | None = None):
    """A keystoneauth adapter for ``group``'s service, signed in with ``creds_group``'s user."""
    creds = creds_group or group
    auth = ks_loading.load_auth_from_conf_options(conf, creds)
    sess = ks_loading.load_session_from_conf_options(conf, creds, auth=auth)
    return ks_loading.load_adapter_from_conf_options(conf, group, session=sess, auth=auth)


def service_adapter(conf, group: str):
    """``load_adapter`` for ``group``, signed in with its own user when it has an
    ``auth_type``, else with the ``[cyborg]`` service user."""
    return load_adapter(conf, group, group if conf[group].auth_type else GROUP)


def ensure(conf):
    """Register the [cyborg] group on ``conf`` unless pooling.conf already did."""
    try:
        _ = conf.cyborg.enabled
    except Exception:  # NoSuchOptError / NoSuchGroupError
        register_opts(conf)
    return conf
