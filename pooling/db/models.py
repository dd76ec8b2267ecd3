"""SQLAlchemy models: the only description of the schema besides the migrations.

Compute is stored in milli-cards (1000 = one whole card) so that the trace's
``gpu_milli`` and the API's percent map without rounding; the API converts.
"""

import datetime

from sqlalchemy import BigInteger
from sqlalchemy import Boolean
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column


def _now():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime, default=_now)
    updated_at: Mapped[datetime.datetime | None] = mapped_column(
        DateTime, default=_now, onupdate=_now)


class Pool(Base):
    __tablename__ = 'pools'
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str] = mapped_column(String(255), default='')


class Host(Base):
    __tablename__ = 'hosts'
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey('pools.id'))
    fabric: Mapped[str | None] = mapped_column(String(255), nullable=True)
    state: Mapped[str] = mapped_column(String(16), default='up')
    cpu_milli: Mapped[int] = mapped_column(Integer, default=0)
    ram_mb: Mapped[int] = mapped_column(Integer, default=0)
    last_heartbeat: Mapped[datetime.datetime | None] = mapped_column(DateTime, nullable=True)
    # JSON [[uuid_a, uuid_b, kind], ...]: the drivers' links between the cards (0005).
    links: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The platform whose driver discovered the host (``vmware``: an ESXi host reported by its
    # vCenter's agent), NULL for a host with its own agent (0008). Its cards serve only that
    # platform's consumers running on it: it has no remoting server.
    platform: Mapped[str | None] = mapped_column(String(32), nullable=True)


class Device(Base):
    __tablename__ = 'devices'
    __table_args__ = (Index('devices_host_idx', 'host_id'),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(64), unique=True)
    host_id: Mapped[int] = mapped_column(ForeignKey('hosts.id'))
    vendor: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(128))
    pci_address: Mapped[str] = mapped_column(String(64), default='')
    memory_mb: Mapped[int] = mapped_column(Integer)
    compute_units: Mapped[int] = mapped_column(Integer, default=0)
    numa_node: Mapped[int | None] = mapped_column(Integer, nullable=True)
    driver_version: Mapped[str] = mapped_column(String(64), default='')
    health: Mapped[str] = mapped_column(String(16), default='healthy')
    health_reason: Mapped[str] = mapped_column(String(255), default='')
    isolation: Mapped[str] = mapped_column(String(64), default='none')  # comma separated
    # JSON list of [compute_milli, memory_mb] a hard partition of this card can
    # have (MIG profiles, vNPU templates): hard requests are snapped to them.
    partition_shapes: Mapped[str | None] = mapped_column(Text, nullable=True)
    compute_total: Mapped[int] = mapped_column(Integer, default=1000)
    compute_used: Mapped[int] = mapped_column(Integer, default=0)
    memory_used: Mapped[int] = mapped_column(Integer, default=0)
    # NOTE: bumped by every claim and release; a claim's UPDATE names the
    # generation it decided on, so two claims can never both take capacity.
    generation: Mapped[int] = mapped_column(Integer, default=0)


class Profile(Base):
    __tablename__ = 'profiles'
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    compute_milli: Mapped[int] = mapped_column(Integer)
    memory_mb: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer, default=1)
    models: Mapped[str] = mapped_column(Text, default='[]')  # JSON list
    isolation: Mapped[str | None] = mapped_column(String(16), nullable=True)
    locality: Mapped[str] = mapped_column(String(32), default='remote-allowed')
    description: Mapped[str] = mapped_column(String(255), default='')
    # The link level the profile's cards must share (API 1.4, migration 0005).
    link: Mapped[str | None] = mapped_column(String(32), nullable=True)


class VGPU(Base):
    __tablename__ = 'vgpus'
    __table_args__ = (Index('vgpus_project_idx', 'project_id'),
                      Index('vgpus_state_idx', 'state'),
                      Index('vgpus_consumer_idx', 'consumer_platform', 'consumer_id'),
                      Index('vgpus_cyborg_arq_idx', 'cyborg_arq'))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    name: Mapped[str] = mapped_column(String(255), default='')
    project_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64), default='')
    state: Mapped[str] = mapped_column(String(16))
    state_reason: Mapped[str] = mapped_column(Text, default='')
    profile: Mapped[str | None] = mapped_column(String(255), nullable=True)
    compute_milli: Mapped[int] = mapped_column(Integer)
    memory_mb: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer, default=1)
    models: Mapped[str] = mapped_column(Text, default='[]')
    locality: Mapped[str] = mapped_column(String(32))
    isolation: Mapped[str | None] = mapped_column(String(16), nullable=True)
    consumer_platform: Mapped[str | None] = mapped_column(String(32), nullable=True)
    consumer_host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    consumer_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    attachment: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON
    # True while the vGPU's slices hold device capacity.
    holds_capacity: Mapped[bool] = mapped_column(Boolean, default=True)
    # A remote vGPU's lease: its id in the gateways, the credential's SHA-256
    # (never the credential) and its expiry (migration 0004).
    lease_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    lease_token_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_expires_at: Mapped[datetime.datetime | None] = mapped_column(DateTime, nullable=True)
    moves: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON list of failovers
    degraded_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The conductor driving the current transition (another takes over when it dies).
    conductor: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # The link level a multi-card vGPU demanded (nvlink, pcie_switch, ...), 0005.
    link: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # The Cyborg ARQ a vGPU was made for (pooling.cyborg.reconciler), 0007.
    cyborg_arq: Mapped[str | None] = mapped_column(String(36), nullable=True)


class Slice(Base):
    __tablename__ = 'slices'
    __table_args__ = (UniqueConstraint('vgpu_id', 'idx', name='uniq_slices0vgpu_idx'),
                      Index('slices_device_idx', 'device_id'))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    vgpu_id: Mapped[int] = mapped_column(ForeignKey('vgpus.id'))
    idx: Mapped[int] = mapped_column(Integer)
    device_id: Mapped[int] = mapped_column(ForeignKey('devices.id'))
    compute_milli: Mapped[int] = mapped_column(Integer)
    memory_mb: Mapped[int] = mapped_column(Integer)


class Conductor(Base):
    """A running pooling-conductor and its heartbeat (work of a silent one is taken over)."""

    __tablename__ = 'conductors'
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    last_seen: Mapped[datetime.datetime] = mapped_column(DateTime)


class Quota(Base):
    __tablename__ = 'quotas'
    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    vgpus: Mapped[int] = mapped_column(Integer, default=-1)
    memory_mb: Mapped[int] = mapped_column(Integer, default=-1)
    compute_milli: Mapped[int] = mapped_column(Integer, default=-1)


class RemoteTraffic(Base):
    """What a device host's gateway counted for one lease (migration 0005).

    The agent reports its gateway's counters with each heartbeat. The gateway's counters start
    from zero when the agent restarts; the ``*_total`` columns here only grow (a smaller report
    than the last ``seen_*`` is a restart: its whole value is new traffic), so Prometheus
    counters built on them only reset when the row goes.
    """

    __tablename__ = 'remote_traffic'
    __table_args__ = (Index('remote_traffic_vgpu_idx', 'vgpu_uuid'),)
    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    lease_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    vgpu_uuid: Mapped[str] = mapped_column(String(36))
    bytes_in_total: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_out_total: Mapped[int] = mapped_column(BigInteger, default=0)
    connections_total: Mapped[int] = mapped_column(BigInteger, default=0)
    connections: Mapped[int] = mapped_column(Integer, default=0)
    seen_in: Mapped[int] = mapped_column(BigInteger, default=0)
    seen_out: Mapped[int] = mapped_column(BigInteger, default=0)
    seen_connections: Mapped[int] = mapped_column(BigInteger, default=0)
    last_use: Mapped[datetime.datetime | None] = mapped_column(DateTime, nullable=True)
