"""Hard requests snap to the partition shapes (MIG profiles, vNPU templates) of a model."""

from pooling import claims
from pooling import scheduler

SHAPES = {'A100': {(142, 10240), (285, 20480), (1000, 81920)},
          'Ascend910B': {(250, 16384), (500, 32768)}}


def _req(**kw):
    base = {'compute_milli': 100, 'memory_mb': 5000, 'isolation': 'hard'}
    base.update(kw)
    return scheduler.Request(**base)


def test_smallest_holding_shape_per_model_smallest_first():
    options = claims.snap(_req(), SHAPES)
    assert [(r.compute_milli, r.memory_mb, r.models) for r in options] == [
        (142, 10240, frozenset({'A100'})), (250, 16384, frozenset({'Ascend910B'}))]


def test_models_constraint_and_memory_decide():
    (only,) = claims.snap(_req(memory_mb=20000, models=frozenset({'A100'})), SHAPES)
    assert (only.compute_milli, only.memory_mb) == (285, 20480)


def test_nothing_holds_it_or_not_hard():
    assert claims.snap(_req(memory_mb=90000), SHAPES) == [_req(memory_mb=90000)]
    soft = _req(isolation='soft')
    assert claims.snap(soft, SHAPES) == [soft]
