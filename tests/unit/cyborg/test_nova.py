"""Server names from Nova: answers, errors, and one pass giving up after Nova fails."""

from oslo_config import cfg
import pytest

from pooling.cyborg import nova
from pooling.cyborg import opts


class Answer:
    def __init__(self, status, body=None, text=''):
        self.status_code, self._body, self.text = status, body, text

    def json(self):
        if self._body is None:
            raise ValueError('not JSON')
        return self._body


class FakeAdapter:
    """Records each GET and answers from ``answers`` ({path: Answer or exception})."""

    def __init__(self, answers):
        self.answers, self.gets = answers, []

    def get(self, path, raise_exc=True, timeout=None):
        self.gets.append((path, timeout))
        answer = self.answers[path]
        if isinstance(answer, Exception):
            raise answer
        return answer


def _client(answers, timeout=None):
    conf = cfg.ConfigOpts()
    opts.register_opts(conf)
    conf([])
    if timeout:
        conf.set_override('timeout', timeout, group='nova')
    return nova.NovaClient(conf, adapter=FakeAdapter(answers))


def test_server_name_and_its_timeout():
    client = _client({'/servers/a': Answer(200, {'server': {'id': 'a', 'name': 'web-1'}})})
    assert client.server_name('a') == 'web-1'
    assert client.adapter.gets == [('/servers/a', opts.NOVA_TIMEOUT)]
    client = _client({'/servers/a': Answer(200, {'server': {'name': 'x'}})}, timeout=2)
    client.server_name('a')
    assert client.adapter.gets == [('/servers/a', 2)]


@pytest.mark.parametrize('answer, error', [
    (Answer(404, text='nope'), nova.ServerGone),
    (Answer(500, text='boom'), nova.NovaError),
    (Answer(200, None), nova.NovaError),
    (Answer(200, {'server': {'name': None}}), nova.NovaError),
    (ConnectionError('refused'), nova.NovaError),
])
def test_server_name_errors(answer, error):
    with pytest.raises(error):
        _client({'/servers/a': answer}).server_name('a')


def test_a_pass_stops_asking_after_nova_fails_but_not_after_a_404():
    client = _client({'/servers/gone': Answer(404), '/servers/a': Answer(503, text='down'),
                      '/servers/b': Answer(200, {'server': {'name': 'b-1'}})})
    names = nova.ServerNames(client)
    assert names('gone') is None
    assert names('b') == 'b-1'
    assert names('b') == 'b-1'  # asked once per pass
    assert names('a') is None and client.failing
    assert names('c') is None  # not asked: Nova failed in this pass
    assert [p for p, _ in client.adapter.gets] == ['/servers/gone', '/servers/b', '/servers/a']
    client.adapter.answers['/servers/a'] = Answer(200, {'server': {'name': 'a-1'}})
    assert nova.ServerNames(client)('a') == 'a-1' and not client.failing  # the next pass


def test_without_a_client_nothing_is_asked():
    assert nova.ServerNames(None)('a') is None
