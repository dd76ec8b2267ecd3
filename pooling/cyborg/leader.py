"""Only one pooling-conductor runs the Cyborg sync: a database session lock.

Two reconcilers racing on one bound ARQ could each claim a vGPU for it (the
pool's claim is safe per card, not per ARQ), and two Placement writers would
undo each other. Every conductor may start the sync loop; a pass runs only in
the process that holds the lock, which is a lock of the database server held
by one connection of its own: ``GET_LOCK`` on MariaDB/MySQL,
``pg_try_advisory_lock`` on PostgreSQL. When the holder dies or loses its
connection, the server drops the lock and another conductor's next pass takes
it; nothing expires on a clock, and no table or migration is needed (a lease
row would need both, and a clock every conductor agrees on). The MySQL lock
name includes a hash of the database name, so pools sharing a server do not
block each other (PostgreSQL advisory locks are per database already).
SQLite is the all-in-one's single process: the in-process pass lock suffices.
"""

import zlib

from oslo_log import log as logging
import sqlalchemy as sa

from pooling.db import api as db_api

LOG = logging.getLogger(__name__)
NAME = 'pooling.cyborg.'  # + SHA1(DATABASE()) on MySQL: 55 of the 64 characters allowed
PG_KEY = zlib.crc32(b'pooling-cyborg-sync')

_TAKE = {
    'mysql': "SELECT GET_LOCK(CONCAT('%s', SHA1(DATABASE())), 0)" % NAME,
    'postgresql': 'SELECT pg_try_advisory_lock(%d)' % PG_KEY,
}
_STILL_MINE = {
    'mysql': "SELECT IS_USED_LOCK(CONCAT('%s', SHA1(DATABASE()))) = CONNECTION_ID()" % NAME,
    'postgresql': ("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' "
                   'AND pid = pg_backend_pid() AND granted AND classid = 0 '
                   'AND objid::bigint = %d)' % PG_KEY),
}
_GIVE_BACK = {
    'mysql': "SELECT RELEASE_LOCK(CONCAT('%s', SHA1(DATABASE())))" % NAME,
    'postgresql': 'SELECT pg_advisory_unlock(%d)' % PG_KEY,
}


class Leader:
    """Whether this process runs the Cyborg sync; ask ``held()`` before every pass."""

    def __init__(self, engine=None):
        self._engine = engine
        self._conn = self._conn_engine = None

    def _scalar(self, sql):
        value = self._conn.execute(sa.text(sql)).scalar()
        self._conn.commit()  # no transaction left open between passes
        return value

    def _drop(self):
        try:
            self._conn.invalidate()
            self._conn.close()
        except Exception:  # already broken
            pass
        self._conn = None

    def held(self) -> bool:
        """True when this process holds the lock, taking it when it is free."""
        engine = self._engine or db_api.get_engine()
        dialect = engine.dialect.name
        if dialect not in _TAKE:
            return True
        if self._conn is not None and self._conn_engine is not engine:
            self._drop()  # the process was pointed at another database
        if self._conn is not None:
            try:
                if self._scalar(_STILL_MINE[dialect]):
                    return True
            except Exception as err:  # connection lost: the server dropped our lock
                LOG.warning('Lost the Cyborg sync lock with its connection: %s', err)
            self._drop()
        conn = engine.connect()
        self._conn, self._conn_engine = conn, engine
        try:
            taken = bool(self._scalar(_TAKE[dialect]))
        except Exception:
            self._drop()
            raise
        if not taken:
            conn.close()  # no lock on it: back to the pool
            self._conn = None
            return False
        LOG.info('This pooling-conductor runs the Cyborg sync now')
        return True

    def release(self) -> None:
        """Give the lock back at once (a stopping conductor); dying does the same."""
        if self._conn is None:
            return
        try:
            self._scalar(_GIVE_BACK[self._conn.dialect.name])
        finally:
            self._drop()
