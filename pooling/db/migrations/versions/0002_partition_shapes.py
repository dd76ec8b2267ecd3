"""Devices remember their hard-partition shapes (MIG profiles, vNPU templates).

Revision ID: 0002_partition_shapes
Revises: 0001_initial
"""

from alembic import op
import sqlalchemy as sa

revision = '0002_partition_shapes'
down_revision = '0001_initial'


def upgrade():
    with op.batch_alter_table('devices') as batch:
        batch.add_column(sa.Column('partition_shapes', sa.Text(), nullable=True))
