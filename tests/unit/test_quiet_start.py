"""Every console script starts without warnings an operator would read as trouble.

eventlet (pulled in by oslo.messaging and futurist, never used: the services run oslo.service's
threading backend) warns about its deprecation on import; pooling/__init__.py silences exactly
that one message. These run the installed scripts as an operator does.
"""

import os
import subprocess
import sys

import pytest

SCRIPTS = ('pooling-api', 'pooling-conductor', 'pooling-agent', 'pooling-manage',
           'pooling-status', 'pooling-exporter', 'pooling-aio', 'pooling-gateway', 'pooling')


@pytest.mark.parametrize('script', SCRIPTS)
def test_a_console_script_starts_quietly(script):
    path = os.path.join(os.path.dirname(sys.executable), script)
    if not os.path.exists(path):
        pytest.skip(f'{script} is not installed in this Python environment')
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONWARNINGS'}
    proc = subprocess.run([path, '--help'], capture_output=True, text=True, timeout=120,
                          env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'Eventlet is deprecated' not in proc.stderr
    assert 'Warning' not in proc.stderr, proc.stderr[-2000:]
