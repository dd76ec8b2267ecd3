"""Only one pooling-conductor runs the Cyborg sync at a time: a tooz lock.

Two reconcilers racing on one bound ARQ could each claim a vGPU for it (the
pool's claim is safe per card, not per ARQ), and two Placement writers would
undo each other. Every conductor may start the sync loop; a pass runs only
in the process that holds the lock. The lock is tooz's, on the pool's own
database server: its ``mysql`` driver (``GET_LOCK``) on MariaDB/MySQL, its
``postgresql`` driver (advisory locks) on PostgreSQL. Each is a lock of the
server held by one connection of its own, so when the holder dies or loses
its connection the server drops it; nothing expires on a clock and no table
is needed. On SQLite (the all-in-one: one process) tooz's ``file`` driver
locks a file beside the database.

NOTE: tooz keeps "acquired" as a local flag and offers no check that the
server still holds the lock, so ``held()`` gives it back and takes it again
before every pass: a fresh connection each time, and a holder whose
connection died learns it here (and another conductor may take over in that
moment, which is as good). The MySQL lock name includes a hash of the
database name, so pools sharing a server do not block each other
(PostgreSQL advisory locks are per database already).
"""

import hashlib
import os

from oslo_log import log as logging
from tooz import coordination

from pooling.db import api as db_api

LOG = logging.getLogger(__name__)
NAME = 'pooling.cyborg.'  # + SHA1 of the database name: 55 of MySQL's 64 characters


def tooz_url(engine) -> str | None:
    """The tooz backend URL for the database ``engine`` points at (None: no lock needed)."""
    url = engine.url
    backend = url.get_backend_name()
    if backend == 'sqlite':
        if not url.database or url.database == ':memory:':
            return None  # one process, one in-memory database
        return 'file://' + os.path.dirname(os.path.abspath(url.database))
    if backend not in ('mysql', 'postgresql'):
        return None
    keep = {k: v for k, v in url.query.items()
            if k in ('unix_socket', 'ssl_ca', 'ssl_cert', 'ssl_key', 'sslmode')}
    url = url.set(drivername=backend, query=keep)
    return url.render_as_string(hide_password=False)


def lock_name(engine) -> bytes:
    return (NAME + hashlib.sha1((engine.url.database or '').encode()).hexdigest()).encode()


class Leader:
    """Whether this process runs the Cyborg sync; ask ``held()`` before every pass."""

    def __init__(self, engine=None):
        self._engine = engine
        self._coordinator = self._lock = self._for = None

    def _setup(self, engine) -> bool:
        if self._for is engine:
            return self._lock is not None
        self.release()
        self._for = engine
        url = tooz_url(engine)
        if url is None:
            return False
        member = ('pooling-conductor-%d' % os.getpid()).encode()
        self._coordinator = coordination.get_coordinator(url, member)
        self._coordinator.start()
        self._lock = self._coordinator.get_lock(lock_name(engine))
        return True

    def held(self) -> bool:
        """True when this process holds the lock, taking it when it is free."""
        engine = self._engine or db_api.get_engine()
        if not self._setup(engine):
            return True
        was = self._lock.acquired
        if was:
            try:
                self._lock.release()
            except Exception as err:  # connection lost: the server dropped our lock
                LOG.warning('Lost the Cyborg sync lock with its connection: %s', err)
                self._lock = self._coordinator.get_lock(lock_name(engine))
        taken = self._lock.acquire(blocking=False)
        if taken and not was:
            LOG.info('This pooling-conductor runs the Cyborg sync now')
        return taken

    def release(self) -> None:
        """Give the lock back at once (a stopping conductor); dying does the same."""
        lock, coordinator = self._lock, self._coordinator
        self._lock = self._coordinator = self._for = None
        try:
            if lock is not None and lock.acquired:
                lock.release()
        except Exception as err:
            LOG.warning('Could not give the Cyborg sync lock back: %s', err)
        finally:
            if coordinator is not None:
                coordinator.stop()
