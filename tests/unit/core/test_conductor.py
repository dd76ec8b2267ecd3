"""The conductor without services: what is remote, and the batch thread."""

import threading

from pooling.conductor import manager


def _vgpu(consumer_host, *hosts):
    return {'consumer': {'platform': 'other', 'host': consumer_host, 'id': 'x'}
            if consumer_host else None,
            'slices': [{'host': h} for h in hosts]}


def test_local_or_unplaced_consumer_is_not_remote():
    assert not manager.is_remote(_vgpu('h1', 'h1'))
    assert not manager.is_remote(_vgpu(None, 'h1'))
    assert manager.is_remote(_vgpu('c1', 'h1', 'h2'))


def test_a_nova_guests_fraction_goes_through_the_data_plane_on_its_own_host():
    def nova(compute_milli):
        return {'consumer': {'platform': 'nova', 'host': 'h1', 'id': 'server'},
                'slices': [{'host': 'h1', 'compute_milli': compute_milli}]}
    # Nova attaches whole cards only (PCI): a fraction reaches the guest with a lease.
    assert manager.is_remote(nova(250))
    assert not manager.is_remote(nova(1000))
    # A container on the card's host opens the device itself.
    assert not manager.is_remote(dict(nova(250), consumer={'platform': 'container',
                                                           'host': 'h1', 'id': 'c'}))


def test_the_batcher_drains_what_was_queued_and_survives_a_failure():
    seen, done = [], threading.Event()

    def work(uuids):
        seen.append(list(uuids))
        if uuids == ['boom']:
            raise RuntimeError('boom')
        if 'last' in uuids:
            done.set()

    batcher = manager._Batcher('test', work)
    gate, started = threading.Event(), threading.Event()
    batcher._work = lambda uuids: (started.set(), gate.wait(5), work(uuids))[2]
    batcher.submit('boom')
    assert started.wait(5)  # the first batch is being worked on; the rest queue up
    for uuid in ('a', 'b', 'a', 'last'):
        batcher.submit(uuid)
    gate.set()
    assert done.wait(5)
    batcher.stop()
    assert seen == [['boom'], ['a', 'b', 'last']]  # duplicates folded, order kept
