"""Hosts a platform driver discovered (a vCenter's ESXi hosts) are marked as such.

Revision ID: 0008_platform_hosts
Revises: 0006_remote_traffic

``hosts.platform`` names the platform whose driver reports the host (``vmware`` for an ESXi
host entered by its vCenter's agent); NULL for a host with its own pooling-agent. Such a host
runs no remoting server and its cards serve only that platform's consumers running on it, so
the scheduler keeps every other consumer off its cards.

NOTE: numbered 0008 because another branch adds 0007; whoever merges both re-points this
``down_revision`` to 0007's revision (the two touch different columns).
"""

from alembic import op
import sqlalchemy as sa

revision = '0008_platform_hosts'
down_revision = '0006_remote_traffic'


def upgrade():
    with op.batch_alter_table('hosts') as batch:
        batch.add_column(sa.Column('platform', sa.String(32), nullable=True))
