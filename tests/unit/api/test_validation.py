"""The 400 texts of request validation say what is missing or conflicting."""

import pytest

from pooling_api import validation
from pooling_api.schemas import vgpus


def _error(data, schema=vgpus.CREATE) -> str:
    with pytest.raises(validation.jsonschema.ValidationError) as err:
        validation._validate(data, schema)
    text = validation._message(err.value, 'request body')
    assert 'not valid under any' not in text
    assert 'valid under each' not in text
    return text


def test_empty_body_names_both_choices():
    text = _error({})
    assert "a profile ('profile')" in text
    assert "'compute_percent' and 'memory_mb'" in text


def test_missing_memory_is_named():
    text = _error({'compute_percent': 10})
    assert "'memory_mb' is missing" in text


def test_profile_and_shape_conflict_is_named():
    text = _error({'profile': 'p1', 'memory_mb': 5})
    assert "'memory_mb' cannot be combined with 'profile'" in text
    text = _error({'profile': 'p1', 'compute_percent': 5, 'memory_mb': 5})
    assert 'not both' in text


def test_valid_bodies_pass():
    validation._validate({'profile': 'p1'}, vgpus.CREATE)
    validation._validate({'compute_percent': 10, 'memory_mb': 5, 'count': 1}, vgpus.CREATE)
