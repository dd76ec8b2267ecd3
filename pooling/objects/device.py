"""Devices: one physical accelerator each, with its capacity and generation."""

import sqlalchemy as sa

from pooling import exception
from pooling.db import api as db_api
from pooling.db import models
from pooling.objects import base


def to_dict(device) -> dict:
    """The API's view of a row of ``query()`` (device columns, host and pool names)."""
    return {'uuid': device.uuid, 'host': device.host_name, 'pool': device.pool_name,
            'vendor': device.vendor, 'model': device.model,
            'pci_address': device.pci_address, 'memory_mb': device.memory_mb,
            'compute_units': device.compute_units, 'numa_node': device.numa_node,
            'driver_version': device.driver_version, 'health': device.health,
            'health_reason': device.health_reason,
            'isolation': [i for i in device.isolation.split(',') if i],
            'partition_shapes': [tuple(x) for x in base.loads(device.partition_shapes, [])],
            'compute_total': device.compute_total, 'compute_used': device.compute_used,
            'memory_used': device.memory_used, 'generation': device.generation,
            **base.timestamps(device)}


def query():
    # NOTE: Core columns, not ORM entities: an API worker reads every device
    # at each model reload and one after each lost claim race.
    return (sa.select(models.Device.__table__, models.Host.name.label('host_name'),
                      models.Pool.name.label('pool_name'))
            .join(models.Host, models.Host.id == models.Device.host_id)
            .join(models.Pool, models.Pool.id == models.Host.pool_id))


_GET = query().where(models.Device.uuid == sa.bindparam('b_uuid'))


@db_api.reader
def list_devices(context, pool=None, host=None, vendor=None, model=None, health=None):
    q = query().order_by(models.Host.name, models.Device.pci_address, models.Device.uuid)
    if pool:
        q = q.where(base.ident_clause(models.Pool, pool))
    if host:
        q = q.where(base.ident_clause(models.Host, host))
    if vendor:
        q = q.where(models.Device.vendor == vendor)
    if model:
        q = q.where(models.Device.model == model)
    if health:
        q = q.where(models.Device.health == health)
    return [to_dict(row) for row in context.session.connection().execute(q).all()]


@db_api.reader
def list_models(context) -> list[str]:
    """The models of every device in every pool, sorted; a vGPU asking for another is a 400."""
    q = sa.select(models.Device.model).distinct().order_by(models.Device.model)
    return [row[0] for row in context.session.connection().execute(q).all()]


@db_api.reader
def get_device(context, uuid: str) -> dict:
    row = context.session.connection().execute(_GET, {'b_uuid': uuid}).first()
    if row is None:
        raise exception.NotFound(kind='Device', ident=uuid)
    return to_dict(row)
