"""The Cyborg ARQ a vGPU was made for, in its own column.

Revision ID: 0007_cyborg_arq
Revises: 0006_remote_traffic

A vGPU the Cyborg reconciler makes for a bound ARQ used to be named
``cyborg-arq-<arq uuid>``, the name being the link back to the ARQ; it is now
named after the Nova server and keeps the link in ``vgpus.cyborg_arq``
(indexed: the reconciler and the Placement step look vGPUs up by it). Rows
made before this revision are linked online by the reconciler, which fills
the column from such a name at its next pass (pooling.cyborg.reconciler).
"""

from alembic import op
import sqlalchemy as sa

revision = '0007_cyborg_arq'
down_revision = '0006_remote_traffic'


def upgrade():
    with op.batch_alter_table('vgpus') as batch:
        batch.add_column(sa.Column('cyborg_arq', sa.String(36), nullable=True))
    op.create_index('vgpus_cyborg_arq_idx', 'vgpus', ['cyborg_arq'])
