#!/bin/bash
# `tox -e openstack` and the last stage of tools/run-tests.sh: install the
# upstream services (own venv under .e2e/), configure, start the pooling
# services and the stack, run the e2e tests, stop everything. Extra args go to
# pytest. The last line is pytest's summary (or "0 passed, 1 failed").
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
export E2E_DIR=${E2E_DIR:-$ROOT/.e2e}
PY=${E2E_PYTHON:-$(command -v python || echo "$ROOT/.venv/bin/python")}
fail() { echo "openstack e2e: $*" >&2; bash "$HERE/unstack.sh" >&2; echo "0 passed, 1 failed"; exit 1; }
bash "$HERE/unstack.sh" >/dev/null 2>&1   # a stack left over from an interrupted run
bash "$HERE/install.sh" || fail "install failed"
bash "$HERE/configure.sh" || fail "configure failed"
bash "$HERE/stack.sh" || fail "stack did not come up; logs in $E2E_DIR/logs"
if [ -x "$HERE/pooling-up.sh" ]; then
  bash "$HERE/pooling-up.sh" || fail "pooling services did not come up; logs in $E2E_DIR/logs"
fi
# our driver against Cyborg's own driver objects, in the venv that has Cyborg
"$E2E_DIR/combo-venv/bin/python" -m pytest -q -p no:cacheprovider "$ROOT/tests/unit/cyborg" \
  >"$E2E_DIR/logs/driver-objects.out" 2>&1 || fail "driver objects test failed: see $E2E_DIR/logs"
# its summary line, so that the test command's closing line counts these tests too
echo "Cyborg driver objects (tests/unit/cyborg in the upstream venv):"
tail -n 1 "$E2E_DIR/logs/driver-objects.out"
"$PY" -m pytest -q -p no:cacheprovider -m openstack "$HERE" "$@"
rc=$?
bash "$HERE/unstack.sh" >&2
exit $rc
