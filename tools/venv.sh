#!/bin/bash
# Create (or refresh) the project's virtualenv in .venv, pinned with the
# OpenStack 2026.2 upper constraints that ship beside the project (the upstream
# URL is not reachable from these machines). Sourced by the other tools.
set -eu
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${POOLING_VENV:-$ROOT/.venv}"
CONSTRAINTS="${TOX_CONSTRAINTS_FILE:-$ROOT/upper-constraints.txt}"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
fi
STAMP="$VENV/.pooling-installed"
REQS="$ROOT/requirements.txt $ROOT/test-requirements.txt $ROOT/doc/requirements.txt $ROOT/pyproject.toml"
if [ ! -f "$STAMP" ] || [ -n "$(find $REQS -newer "$STAMP" 2>/dev/null)" ]; then
    # NOTE: this machine kind's pip config names local mirrors that may be
    # absent; pip warns about each, which only hides real errors.
    "$VENV/bin/pip" install -q -c "$CONSTRAINTS" -r "$ROOT/requirements.txt" \
        -r "$ROOT/test-requirements.txt" 2> >(grep -v "WARNING: Location" >&2)
    "$VENV/bin/pip" install -q -c "$CONSTRAINTS" --no-deps -e "$ROOT" \
        2> >(grep -v "WARNING: Location" >&2)
    touch "$STAMP"
fi
# libvirt-python has no wheel: it is built against the system's libvirt-dev, so it is installed
# only where tools/ci-deps.sh put that (the libvirt platform tests skip without it).
if ! "$VENV/bin/python" -c 'import libvirt' 2>/dev/null && pkg-config --exists libvirt 2>/dev/null; then
    "$VENV/bin/pip" install -q -c "$CONSTRAINTS" libvirt-python 2> >(grep -v "WARNING: Location" >&2) \
        || echo "venv.sh: libvirt-python did not build; the libvirt platform tests will skip" >&2
fi
