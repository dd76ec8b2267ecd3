"""pooling-k8s: argument handling and the per-project pool clients."""

import pytest

from poolingclient import k8s


def _args(*argv):
    argv = ['--os-auth-type', 'none', '--os-endpoint', 'http://127.0.0.1:6388', *argv]
    return k8s.build_parser(argv).parse_args(argv)


def test_namespace_project_pairs():
    assert k8s._projects(['team-a=p1', '*=p0']) == {'team-a': 'p1', '*': 'p0'}
    with pytest.raises(SystemExit, match='want NAMESPACE=PROJECT'):
        k8s._projects(['team-a'])


def test_noauth_clients_act_in_the_project_by_header():
    clients = k8s.PoolClients(_args('manifests'))
    a = clients.for_project('p1')
    assert a._adapter.additional_headers['X-Project-Id'] == 'p1'
    assert clients.for_project('p1') is a
    assert 'X-Project-Id' not in clients.admin()._adapter.additional_headers


def test_kubelet_plugin_needs_a_node_name(capsys):
    with pytest.raises(SystemExit):
        _args('kubelet-plugin')
    assert '--node-name' in capsys.readouterr().err


def test_unreachable_pool_is_one_line_not_a_traceback(capsys):
    argv = ['--os-auth-type', 'none', '--os-endpoint', 'http://127.0.0.1:9', 'manifests']
    assert k8s.main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith('pooling-k8s manifests: ') and 'Traceback' not in err
