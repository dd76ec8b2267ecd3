"""The one enginefacade transaction context of a process (oslo.db).

NOTE: a module-level transaction context is the one singleton the style rules
allow (besides the policy enforcer): oslo.db's reader/writer decorators need a
process-wide factory. Tests swap it with ``use_factory``.
"""

from oslo_db.sqlalchemy import enginefacade

context_manager = enginefacade.transaction_context()
reader = context_manager.reader
writer = context_manager.writer


def configure(conf) -> None:
    """Point the process's transaction context at ``conf.database``."""
    use_connection(conf.database.connection, max_pool_size=conf.database.max_pool_size)


def use_connection(url: str, max_pool_size: int | None = None):
    """Give this process a fresh engine for ``url`` (services, tests, tools).

    Returns a callable that restores the previous factory.
    """
    factory = enginefacade._TransactionFactory()
    opts = {'connection': url}
    if url.startswith('sqlite'):
        # NOTE: SQLite is the embedded default only; it has one writer at a time.
        opts['sqlite_fk'] = True
    elif max_pool_size:
        opts['max_pool_size'] = max_pool_size
    factory.configure(**opts)
    return context_manager.patch_factory(factory)


def get_engine():
    return context_manager.writer.get_engine()
