#!/bin/bash
# What the tests need beyond the services that tools/ensure-services.sh starts and the venv
# that tools/venv.sh makes. Idempotent; a no-op when all are present.
#   nginx-light: tests/functional/test_slow_bodies.py runs pooling-api behind
#                etc/pooling/nginx/pooling-api.conf (the documented deployment).
#   chromium, chromium-driver: the dashboard's headless browser tests
#                (tests/dashboard/test_browser.py skips, saying so, without them).
#   dashboard-requirements.txt (Horizon, Django, selenium, pytest-django, pinned by
#                upper-constraints.txt) in the project's venv, when it exists: without them
#                tests/dashboard is left out of the run.
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${POOLING_VENV:-$ROOT/.venv}"
CONSTRAINTS="${TOX_CONSTRAINTS_FILE:-$ROOT/upper-constraints.txt}"

missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
if [ ${#missing[@]} -gt 0 ]; then
    echo "ci-deps: installing ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        "${missing[@]}" >/dev/null \
        || { apt-get update -q >/dev/null && \
             DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
                 "${missing[@]}" >/dev/null; } \
        || echo "ci-deps: could not install ${missing[*]}; the tests that need them skip" >&2
fi

if [ -x "$VENV/bin/pip" ]; then
    STAMP="$VENV/.pooling-dashboard-installed"
    if [ ! -f "$STAMP" ] || [ "$ROOT/dashboard-requirements.txt" -nt "$STAMP" ]; then
        if "$VENV/bin/pip" install -q -c "$CONSTRAINTS" -r "$ROOT/dashboard-requirements.txt" \
                2> >(grep -v "WARNING: Location" >&2); then
            touch "$STAMP"
        else
            echo "ci-deps: dashboard requirements NOT installed: tests/dashboard is left out" >&2
        fi
    fi
fi
exit 0
