"""Per-lease traffic of the remote data plane, as the device hosts' gateways count it.

Revision ID: 0006_remote_traffic
Revises: 0005_topology

One row per (device host, lease): bytes each way and connections, reported by the agent with
its heartbeat and kept growing across agent restarts (``seen_*`` hold the gateway's last raw
counters). The metrics endpoint exposes them per vGPU.
"""

from alembic import op
import sqlalchemy as sa

revision = '0006_remote_traffic'
down_revision = '0005_topology'


def upgrade():
    op.create_table(
        'remote_traffic',
        sa.Column('host', sa.String(255), primary_key=True),
        sa.Column('lease_id', sa.String(64), primary_key=True),
        sa.Column('vgpu_uuid', sa.String(36), nullable=False),
        sa.Column('bytes_in_total', sa.BigInteger(), nullable=False),
        sa.Column('bytes_out_total', sa.BigInteger(), nullable=False),
        sa.Column('connections_total', sa.BigInteger(), nullable=False),
        sa.Column('connections', sa.Integer(), nullable=False),
        sa.Column('seen_in', sa.BigInteger(), nullable=False),
        sa.Column('seen_out', sa.BigInteger(), nullable=False),
        sa.Column('seen_connections', sa.BigInteger(), nullable=False),
        sa.Column('last_use', sa.DateTime(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=True),
        sa.Column('updated_at', sa.DateTime(), nullable=True))
    op.create_index('remote_traffic_vgpu_idx', 'remote_traffic', ['vgpu_uuid'])
