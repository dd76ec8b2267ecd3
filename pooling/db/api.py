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
    """Point the process's transaction context at ``conf.database``, every option of it.

    NOTE: oslo.db's enginefacade knows each ``[database]`` option by name
    (pool sizes and timeouts, recycle time, SQL mode, retries, connection
    parameters, …), so the whole group is handed over; a hand-picked subset
    silently ignored the rest (issue 13).
    """
    _use(dict(conf.database.items()))


def use_connection(url: str, **options):
    """Give this process a fresh engine for ``url``; returns a callable restoring the old one."""
    return _use(dict(options, connection=url))


def _use(options: dict):
    global _serialize_writers
    url = options.get('connection') or ''
    # NOTE: thread_checkin sleeps 0 s at every pool checkin so that eventlet
    # green threads take turns; with OS threads it only adds a GIL handover
    # per transaction.
    options.setdefault('thread_checkin', False)
    _serialize_writers = url.startswith('sqlite')
    if _serialize_writers:
        options['sqlite_fk'] = True
    # NOTE: options the engine does not take (backend, db_inc_retry_interval, …)
    # are left out rather than warned about at every start.
    known = _configurable()
    fresh = enginefacade.transaction_context()
    fresh.configure(**{k: v for k, v in options.items() if k in known and v is not None})
    return context_manager.patch_factory(fresh)


def _configurable() -> set:
    """Names ``configure`` accepts: oslo.db's [database] options the engine reads."""
    from oslo_db import options as db_options

    return {opt.dest for opt in db_options.database_opts} | {'thread_checkin', 'sqlite_fk'}


def get_engine():
    return context_manager.writer.get_engine()
