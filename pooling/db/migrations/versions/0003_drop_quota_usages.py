"""Usage is summed from vGPUs; the per-project counter table goes.

Revision ID: 0003_drop_quota_usages
Revises: 0002_partition_shapes
"""

from alembic import op

revision = '0003_drop_quota_usages'
down_revision = '0002_partition_shapes'


def upgrade():
    op.drop_table('quota_usages')
