"""Microversion parsing: absent, exact, latest, malformed, unsupported."""

import pytest

from pooling_api import microversion


def _h(value):
    return {'OpenStack-API-Version': value}


def test_absent_is_minimum():
    assert str(microversion.extract({})) == '1.0'


def test_latest_is_maximum():
    assert microversion.extract(_h('accelerator-pool latest')) == microversion.MAX_VERSION


def test_other_service_is_ignored():
    assert str(microversion.extract(_h('compute 2.90'))) == '1.0'


@pytest.mark.parametrize('value', ['accelerator-pool one', 'accelerator-pool 1.x'])
def test_malformed(value):
    with pytest.raises(microversion.BadVersion):
        microversion.extract(_h(value))


@pytest.mark.parametrize('value', ['accelerator-pool 0.9', 'accelerator-pool 1.99',
                                   'accelerator-pool 2.0'])
def test_unsupported(value):
    with pytest.raises(microversion.UnsupportedVersion, match='supports 1.0 to'):
        microversion.extract(_h(value))
