"""The books, read straight from the database after the pool has settled.

1. Per device, the slices of vGPUs that hold capacity add up to the device's
   used compute and memory, and never exceed its capacity.
2. Nothing transitional (SCHEDULED, PREPARING, RELEASING) once settled.
3. Every vGPU the API answered 201 for exists.
4. No DELETED or ERROR vGPU holds capacity.
"""

import time

import sqlalchemy as sa

TRANSITIONAL = ('SCHEDULED', 'PREPARING', 'RELEASING')


def transitional(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text('SELECT COUNT(*) FROM vgpus WHERE state IN '
                                    "('SCHEDULED', 'PREPARING', 'RELEASING')")).scalar()


def wait_settled(engine, timeout: float = 90) -> float:
    """Seconds until no vGPU is transitional (AssertionError after ``timeout``)."""
    started = time.monotonic()
    while True:
        try:
            if transitional(engine) == 0:
                return time.monotonic() - started
        except sa.exc.OperationalError:
            pass
        if time.monotonic() - started > timeout:
            with engine.connect() as conn:
                rows = conn.execute(sa.text(
                    'SELECT uuid, state, state_reason FROM vgpus WHERE state IN '
                    "('SCHEDULED', 'PREPARING', 'RELEASING') LIMIT 10")).all()
            raise AssertionError('still transitional after %d s: %s' % (timeout, rows))
        time.sleep(0.5)


def check(engine, created: set[str]) -> dict:
    """Assert the four invariants; return what was counted."""
    with engine.connect() as conn:
        books = conn.execute(sa.text(
            'SELECT d.uuid, d.compute_total, d.compute_used, d.memory_mb, d.memory_used, '
            'COALESCE(SUM(CASE WHEN v.holds_capacity THEN s.compute_milli END), 0), '
            'COALESCE(SUM(CASE WHEN v.holds_capacity THEN s.memory_mb END), 0) '
            'FROM devices d LEFT JOIN slices s ON s.device_id = d.id '
            'LEFT JOIN vgpus v ON v.id = s.vgpu_id '
            'GROUP BY d.uuid, d.compute_total, d.compute_used, d.memory_mb, d.memory_used'
        )).all()
        for dev, c_total, c_used, m_total, m_used, c_sum, m_sum in books:
            assert (c_used, m_used) == (c_sum, m_sum), \
                'device %s: books say %s, slices add up to %s' % (dev, (c_used, m_used),
                                                                  (c_sum, m_sum))
            assert 0 <= c_used <= c_total and 0 <= m_used <= m_total, \
                'device %s over capacity: %s' % (dev, (c_used, c_total, m_used, m_total))
        left = transitional(engine)
        assert left == 0, '%d vGPUs transitional after settling' % left
        known = {r[0] for r in conn.execute(sa.text('SELECT uuid FROM vgpus'))}
        missing = created - known
        assert not missing, '201 answered for vGPUs the DB does not have: %s' % list(missing)[:5]
        held = conn.execute(sa.text(
            "SELECT COUNT(*) FROM vgpus WHERE state IN ('DELETED', 'ERROR') "
            'AND holds_capacity')).scalar()
        assert held == 0, '%d DELETED or ERROR vGPUs still hold capacity' % held
        states = dict(conn.execute(sa.text('SELECT state, COUNT(*) FROM vgpus GROUP BY state'))
                      .all())
    return {'devices': len(books), 'vgpus': states}
