"""Schema migrations with alembic: ``pooling-manage db sync`` and ``db version``."""

import os

from alembic import command
from alembic import config as alembic_config
from alembic import migration as alembic_migration

from pooling.db import api as db_api

_HERE = os.path.dirname(__file__)


def _config(connection=None):
    cfg = alembic_config.Config(os.path.join(_HERE, 'alembic.ini'))
    cfg.set_main_option('script_location', os.path.join(_HERE, 'migrations'))
    if connection is not None:
        cfg.attributes['connection'] = connection
    return cfg


def upgrade(revision: str = 'head') -> None:
    engine = db_api.get_engine()
    with engine.begin() as connection:
        command.upgrade(_config(connection), revision)


def version() -> str | None:
    engine = db_api.get_engine()
    with engine.connect() as connection:
        return alembic_migration.MigrationContext.configure(connection).get_current_revision()
