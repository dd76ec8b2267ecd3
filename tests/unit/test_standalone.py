"""The repository stands on its own: nothing a user runs may read ``../shared/``.

``../shared/`` exists only beside the developers' checkouts, never beside a user's clone
(a bare clone once failed at the README's first command because tools/venv.sh and tox.ini read
the upper constraints from there). ``.ci/run`` proves the whole suite in a copy with nothing
beside it; this test names the offending file at once.
"""

import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
#: what may still mention it: this test, and recorded benchmark results (paths of past runs).
ALLOWED = ("tests/unit/test_standalone.py", "bench/results/")


def _tracked():
    try:
        out = subprocess.run(["git", "-C", ROOT, "ls-files"], capture_output=True, text=True,
                             check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        out = [os.path.relpath(os.path.join(d, f), ROOT)
               for d, _, fs in os.walk(ROOT) if "/." not in d for f in fs]
    return [p for p in out if not p.startswith(ALLOWED)]


def test_nothing_reads_shared():
    bad = []
    for rel in _tracked():
        try:
            with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
                text = f.read()
        except (UnicodeDecodeError, OSError):
            continue
        if "../shared" in text or "/shared/reference" in text or "/shared/data" in text:
            bad.append(rel)
    assert bad == [], "these files read or point at ../shared/: %s" % bad


def test_constraints_in_repository():
    path = os.path.join(ROOT, "upper-constraints.txt")
    with open(path) as f:
        text = f.read()
    assert "oslo.config===" in text and "SQLAlchemy===" in text
    with open(os.path.join(ROOT, "tox.ini")) as f:
        tox = f.read()
    assert "{toxinidir}/upper-constraints.txt" in tox and "venv_redirect = false" in tox
