"""The lease document: one typed format, read strictly, token kept out of repr."""

import datetime
import json

import pytest

from pooling.gateway import lease as L

PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'


def doc(**over):
    data = {'version': 1, 'vgpu_uuid': 'v-1', 'protocol': 'lupine',
            'endpoints': [{'gateway': 'gpu-7.example:14830', 'lease_id': 'v-1-h7', 'cards': 2},
                          {'gateway': '[fd00::1]:14830', 'lease_id': 'v-1-h8',
                           'server_name': 'gpu-8'}],
            'token': 't' * 43, 'expires_at': '2030-01-01T00:00:00Z', 'ca_cert': PEM}
    data.update(over)
    return data


def test_round_trip_and_card_order():
    d = L.LeaseDocument.from_dict(doc())
    assert d.card_count == 3
    assert [(e.host, e.port, e.tls_name) for e in d.endpoints] == [
        ('gpu-7.example', 14830, 'gpu-7.example'), ('fd00::1', 14830, 'gpu-8')]
    assert L.LeaseDocument.from_json(d.to_json()) == d
    assert json.loads(d.to_json())['expires_at'] == '2030-01-01T00:00:00Z'
    assert 't' * 43 not in repr(d) and PEM not in repr(d)


@pytest.mark.parametrize('field', ['vgpu_uuid', 'protocol', 'endpoints', 'token', 'expires_at',
                                   'ca_cert'])
def test_missing_field_is_named(field):
    data = doc()
    del data[field]
    with pytest.raises(L.LeaseError, match=field):
        L.LeaseDocument.from_dict(data)


@pytest.mark.parametrize('over, match', [
    ({'endpoints': []}, 'no endpoints'),
    ({'endpoints': [{'gateway': 'no-port', 'lease_id': 'x'}]}, 'host:port'),
    ({'endpoints': [{'gateway': 'h:1', 'lease_id': '../etc'}]}, 'lease_id'),
    ({'endpoints': [{'gateway': 'h:1', 'lease_id': 'x', 'cards': 0}]}, 'cards'),
    ({'token': 'short'}, 'token'),
    ({'ca_cert': 'nope'}, 'PEM'),
    ({'expires_at': 'tomorrow'}, 'ISO 8601'),
    ({'version': 2}, 'version'),
    ({'protocol': 'Bad Name'}, 'protocol'),
])
def test_malformed_documents_say_what_is_wrong(over, match):
    with pytest.raises(L.LeaseError, match=match):
        L.LeaseDocument.from_dict(doc(**over))


def test_not_json():
    with pytest.raises(L.LeaseError, match='not JSON'):
        L.LeaseDocument.from_json('{')


def test_expiry():
    d = L.LeaseDocument.from_dict(doc(expires_at='2020-01-01T00:00:00Z'))
    assert d.expired()
    with pytest.raises(L.LeaseExpired, match='expired at 2020-01-01T00:00:00Z'):
        d.check_live()
    L.LeaseDocument.from_dict(doc()).check_live(
        datetime.datetime(2029, 1, 1, tzinfo=datetime.timezone.utc))
