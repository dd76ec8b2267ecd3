"""The one enginefacade transaction context of a process (oslo.db).

NOTE: a module-level transaction context is the one singleton the style rules
allow (besides the policy enforcer): oslo.db's reader/writer decorators need a
process-wide factory. Services call ``configure``; tests ``use_connection``.
"""

import functools
import threading

from oslo_db.sqlalchemy import enginefacade

context_manager = enginefacade.transaction_context()
reader = context_manager.reader

# NOTE: SQLite (the all-in-one's embedded default) has one writer at a time,
# and two deferred transactions that read then write deadlock: one fails at
# once with "database is locked", which no busy timeout cures. In one process
# we simply let writers take turns; MariaDB and PostgreSQL need no such lock.
_SQLITE_WRITERS = threading.RLock()
_serialize_writers = False


def writer(fn):
    """``context_manager.writer`` that takes turns on SQLite."""
    transactional = context_manager.writer(fn)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if not _serialize_writers:
            return transactional(*args, **kwargs)
        with _SQLITE_WRITERS:
            return transactional(*args, **kwargs)

    return wrapper


def configure(conf) -> None:
    """Point the process's transaction context at ``conf.database``."""
    use_connection(conf.database.connection, max_pool_size=conf.database.max_pool_size)


def use_connection(url: str, max_pool_size: int | None = None):
    """Give this process a fresh engine for ``url``; returns a callable restoring the old one."""
    global _serialize_writers
    factory = enginefacade._TransactionFactory()
    # NOTE: thread_checkin sleeps 0 s at every pool checkin so that eventlet
    # green threads take turns; with OS threads it only adds a GIL handover
    # per transaction.
    opts = {'connection': url, 'thread_checkin': False}
    _serialize_writers = url.startswith('sqlite')
    if _serialize_writers:
        opts['sqlite_fk'] = True
    elif max_pool_size:
        opts['max_pool_size'] = max_pool_size
    factory.configure(**opts)
    return context_manager.patch_factory(factory)


def get_engine():
    return context_manager.writer.get_engine()
