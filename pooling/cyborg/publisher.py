"""Mirror pool profiles into Cyborg device profiles, idempotently.

The pool owns every Cyborg device profile whose name has ``[cyborg]
profile_prefix``: one per pool profile, created when missing, re-created when
its groups differ (Cyborg has no update; bound ARQs keep a copy of their group,
so they are not affected), deleted when the pool profile is gone. Profiles
without the prefix are never touched.
"""

import threading
import time

from oslo_log import log as logging

from pooling.cyborg import client as cyborg_client
from pooling.cyborg import naming
from pooling.cyborg import opts

LOG = logging.getLogger(__name__)


def desired(prefix: str, profiles: list[dict]) -> dict[str, dict]:
    """{device profile name: {groups, description}} for the pool's profiles."""
    return {naming.device_profile_name(prefix, p['name']): {
        'groups': naming.device_profile_groups(p['name']),
        'description': 'pooled vGPU profile %s (managed by pooling)' % p['name']}
        for p in profiles}


def _normal(groups) -> list:
    return [{k.strip(): str(v).strip() for k, v in g.items()} for g in groups or []]


def sync(cyborg, prefix: str, profiles: list[dict]) -> dict:
    """Make Cyborg's ``prefix*`` device profiles match ``profiles``.

    :returns: {'created': [...], 'updated': [...], 'deleted': [...]} (names).
    :raises CyborgError: Cyborg could not be listed (nothing was changed).
    """
    want = desired(prefix, profiles)
    have = {dp['name']: dp for dp in cyborg.list_device_profiles()
            if dp['name'].startswith(prefix)}
    done = {'created': [], 'updated': [], 'deleted': []}
    for name, dp in sorted(have.items()):
        if name not in want:
            cyborg.delete_device_profile(dp['uuid'])
            done['deleted'].append(name)
        elif _normal(dp.get('groups')) != _normal(want[name]['groups']):
            cyborg.delete_device_profile(dp['uuid'])
            cyborg.create_device_profile(name, want[name]['groups'], want[name]['description'])
            done['updated'].append(name)
    for name in sorted(set(want) - set(have)):
        cyborg.create_device_profile(name, want[name]['groups'], want[name]['description'])
        done['created'].append(name)
    if any(done.values()):
        LOG.info('Cyborg device profiles: %s', done)
    return done


class PublishedCache:
    """Which device profiles Cyborg has, looked up at most every few seconds.

    Used by pooling-api for the ``published`` field of /v1/profiles; ``None``
    when Cyborg sync is off or Cyborg cannot be reached (the field is then
    left out rather than guessed).
    """

    def __init__(self, conf, client=None):
        self.conf = conf
        self._client = client
        self._lock = threading.Lock()
        self._names = None
        self._at = -1e9

    def names(self) -> set | None:
        if not self.conf.cyborg.enabled:
            return None
        with self._lock:
            if time.monotonic() - self._at < self.conf.cyborg.published_cache_seconds:
                return self._names
            try:
                if self._client is None:
                    self._client = cyborg_client.CyborgClient(self.conf)
                self._names = {dp['name'] for dp in self._client.list_device_profiles()}
            except Exception as err:
                LOG.warning('Cannot list Cyborg device profiles: %s', err)
                self._names = None
            self._at = time.monotonic()
            return self._names

    def annotate(self, profiles: list[dict]) -> list[dict]:
        """Add ``published`` (and ``device_profile``) to serialized pool profiles."""
        names = self.names()
        if names is None:
            return profiles
        prefix = self.conf.cyborg.profile_prefix
        for p in profiles:
            dp = naming.device_profile_name(prefix, p['name'])
            p['published'] = dp in names
            p['device_profile'] = dp
        return profiles


_CACHES: dict = {}


def annotate(conf, profiles: list[dict]) -> list[dict]:
    """The lead's hook for /v1/profiles: ``profiles = publisher.annotate(conf, profiles)``."""
    opts.ensure(conf)
    cache = _CACHES.get(id(conf))
    if cache is None:
        cache = _CACHES[id(conf)] = PublishedCache(conf)
    return cache.annotate(profiles)
