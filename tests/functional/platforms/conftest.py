"""Fixtures for the platform bridges: the vCenter simulator (see vcsim.py)."""

import pytest

from tests.functional.platforms import vcsim as vcsim_mod


@pytest.fixture(scope='session')
def vcsim_binary():
    binary = vcsim_mod.build()
    if binary is None:
        pytest.skip('vCenter simulator not buildable here: install golang-go and '
                    'golang-github-vmware-govmomi-dev (tools/ci-deps.sh)')
    return binary


@pytest.fixture
def vcsim(vcsim_binary):
    sim = vcsim_mod.Simulator(vcsim_binary)
    yield sim
    sim.stop()
