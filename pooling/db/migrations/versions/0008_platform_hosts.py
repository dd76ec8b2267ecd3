"""Hosts a platform driver discovered (a vCenter's ESXi hosts) are marked as such.

Revision ID: 0008_platform_hosts
Revises: 0007_cyborg_arq

``hosts.platform`` names the platform whose driver reports the host (``vmware`` for an ESXi
host entered by its vCenter's agent); NULL for a host with its own pooling-agent. Such a host
runs no remoting server and its cards serve only that platform's consumers running on it, so
the scheduler keeps every other consumer off its cards.
"""

from alembic import op
import sqlalchemy as sa

revision = '0008_platform_hosts'
down_revision = '0007_cyborg_arq'


def upgrade():
    with op.batch_alter_table('hosts') as batch:
        batch.add_column(sa.Column('platform', sa.String(32), nullable=True))
