"""The one enginefacade transaction context of a process (oslo.db).

NOTE: a module-level transaction context is the one singleton the style rules
allow (besides the policy enforcer): oslo.db's reader/writer decorators need a
process-wide factory. Services call ``configure``; tests ``use_connection``.
"""

import functools
import threading

from oslo_db import api as oslo_db_api
from oslo_db.sqlalchemy import enginefacade

context_manager = enginefacade.transaction_context()

# NOTE: SQLite (the all-in-one's embedded default) has one writer at a time,
# and two deferred transactions that read then write deadlock: one fails at
# once with "database is locked", which no busy timeout cures. In one process
# we simply let writers take turns; MariaDB and PostgreSQL need no such lock.
_SQLITE_WRITERS = threading.RLock()
_serialize_writers = False
# [database] use_db_reconnect and db_*retry*: oslo.db's wrap_db_retry around
# the outermost transaction of a call (an inner one is part of it and cannot
# be retried alone); None when reconnecting is off (the default).
_retry = None
_nesting = threading.local()


def _transactional(fn, transactional, serialize: bool):
    def once(*args, **kwargs):
        if serialize and _serialize_writers:
            with _SQLITE_WRITERS:
                return transactional(*args, **kwargs)
        return transactional(*args, **kwargs)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        retry = _retry
        if retry is None or getattr(_nesting, 'depth', 0):
            return once(*args, **kwargs)
        _nesting.depth = 1
        try:
            return retry(once)(*args, **kwargs)
        finally:
            _nesting.depth = 0

    return wrapper


def reader(fn):
    """``context_manager.reader``, retried on disconnect when [database] says so."""
    return _transactional(fn, context_manager.reader(fn), serialize=False)


def writer(fn):
    """``context_manager.writer`` that takes turns on SQLite (and is retried likewise)."""
    return _transactional(fn, context_manager.writer(fn), serialize=True)


def configure(conf) -> None:
    """Point the process's transaction context at ``conf.database``, every option of it.

    NOTE: oslo.db's enginefacade knows each ``[database]`` option by name
    (pool sizes and timeouts, recycle time, SQL mode, retries, connection
    parameters, …), so the whole group is handed over; a hand-picked subset
    silently ignored the rest (issue 13). The four options oslo.db's DB API
    layer reads instead (``use_db_reconnect`` and the ``db_*retry*`` ones)
    configure the retry of ``reader``/``writer`` above.
    """
    global _retry
    db = conf.database
    _retry = None
    if db.use_db_reconnect:
        _retry = oslo_db_api.wrap_db_retry(
            max_retries=db.db_max_retries, retry_interval=db.db_retry_interval,
            inc_retry_interval=db.db_inc_retry_interval,
            max_retry_interval=db.db_max_retry_interval, retry_on_disconnect=True)
    _use(dict(db.items()))


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
