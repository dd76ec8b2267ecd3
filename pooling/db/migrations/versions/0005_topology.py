"""Device links per host, and the link level a vGPU demands.

Revision ID: 0005_topology
Revises: 0004_leases

``hosts.links`` holds the drivers' report of how the host's cards connect (JSON
``[[uuid_a, uuid_b, kind], ...]``: NVLink, PCIe switch ...), which the claim
service loads into its model so a multi-card vGPU gets cards that share the
best link. ``vgpus.link`` keeps the level a vGPU demanded (API 1.4), so a
failover move honours it too; ``profiles.link`` is a profile's demand.
"""

from alembic import op
import sqlalchemy as sa

revision = '0005_topology'
down_revision = '0004_leases'


def upgrade():
    with op.batch_alter_table('hosts') as batch:
        batch.add_column(sa.Column('links', sa.Text(), nullable=True))
    with op.batch_alter_table('vgpus') as batch:
        batch.add_column(sa.Column('link', sa.String(32), nullable=True))
    with op.batch_alter_table('profiles') as batch:
        batch.add_column(sa.Column('link', sa.String(32), nullable=True))
