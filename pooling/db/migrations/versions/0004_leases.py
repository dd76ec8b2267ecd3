"""Remote leases, moves, degraded backends, and conductors that own work.

Revision ID: 0004_leases
Revises: 0003_drop_quota_usages

A remote vGPU's credential is stored only as its SHA-256 (``lease_token_sha256``);
``lease_id`` names the lease in the device host's gateway and changes with every
issue and every move. ``moves`` is the JSON history of failovers shown on the
vGPU. ``conductor`` names the conductor that drives the vGPU's current
transition; ``conductors`` holds each conductor's heartbeat, so another one
takes over the work of a dead one in seconds.
"""

from alembic import op
import sqlalchemy as sa

revision = '0004_leases'
down_revision = '0003_drop_quota_usages'


def upgrade():
    with op.batch_alter_table('vgpus') as batch:
        batch.add_column(sa.Column('lease_id', sa.String(36), nullable=True))
        batch.add_column(sa.Column('lease_token_sha256', sa.String(64), nullable=True))
        batch.add_column(sa.Column('lease_expires_at', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('moves', sa.Text(), nullable=True))
        batch.add_column(sa.Column('degraded_reason', sa.Text(), nullable=True))
        batch.add_column(sa.Column('conductor', sa.String(255), nullable=True))
    op.create_table(
        'conductors',
        sa.Column('name', sa.String(255), primary_key=True),
        sa.Column('last_seen', sa.DateTime(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=True),
        sa.Column('updated_at', sa.DateTime(), nullable=True))
