#!/bin/bash
# What the test run needs beyond tools/venv.sh (which it runs first): idempotent, safe to run
# before every CI run (tools/run-tests.sh is the place).
#  - Debian's chromium and chromium-driver for the dashboard's headless browser tests
#    (tests/dashboard/test_browser.py skips, saying so, without them);
#  - the Horizon plugin's Python requirements (dashboard-requirements.txt: Horizon, Django,
#    selenium, pytest-django, pinned by the upper constraints) in the project's venv.
set -eu
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${POOLING_VENV:-$ROOT/.venv}"
CONSTRAINTS="${TOX_CONSTRAINTS_FILE:-$ROOT/upper-constraints.txt}"

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q >/dev/null
        apt-get install -y -q --no-install-recommends chromium chromium-driver >/dev/null
    else
        echo "ci-deps: chromium/chromium-driver missing and apt-get unavailable;" \
             "the browser tests will skip" >&2
    fi
fi

bash "$ROOT/tools/venv.sh"  # the project's venv first (stamped: quick when current)
STAMP="$VENV/.pooling-dashboard-installed"
if [ ! -f "$STAMP" ] || [ "$ROOT/dashboard-requirements.txt" -nt "$STAMP" ]; then
    "$VENV/bin/pip" install -q -c "$CONSTRAINTS" -r "$ROOT/dashboard-requirements.txt" \
        2> >(grep -v "WARNING: Location" >&2)
    touch "$STAMP"
fi
