#!/bin/bash
# Install the upstream OpenStack services the e2e test runs against (Keystone,
# Placement, Cyborg, Nova, Glance, the openstack CLI) into ONE venv under
# $E2E_DIR (default .e2e/, git-ignored), pinned with constraints.txt beside
# this script, and pooling itself (no deps) so that the unmodified cyborg-agent
# finds our `cyborg.accelerator.driver` entry point. Never touches .venv.
# Idempotent: a stamp file skips the work when nothing changed.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
E2E_DIR=${E2E_DIR:-$ROOT/.e2e}
mkdir -p "$E2E_DIR"
V=$E2E_DIR/combo-venv
STAMP=$V/.installed
if [ ! -f "$STAMP" ] || [ "$HERE/constraints.txt" -nt "$STAMP" ]; then
  [ -x "$V/bin/python" ] || python3 -m venv "$V"
  "$V/bin/pip" install -q -U pip 2>&1 | { grep -v '^WARNING: Location' || true; }
  "$V/bin/pip" install -q -c "$HERE/constraints.txt" \
    keystone==30.0.0 openstack-placement==16.0.0 openstack-cyborg==17.0.0 nova==34.0.0 \
    glance==33.0.0 gunicorn PyMySQL python-openstackclient python-cyborgclient osc-placement pytest \
    2>&1 | { grep -v '^WARNING: Location' || true; }
  [ "${PIPESTATUS[0]}" = 0 ] || exit 1
  touch "$STAMP"
fi
# our package: every run, so a changed entry point or driver is picked up
"$V/bin/pip" install -q --no-deps -e "$ROOT" 2>&1 | { grep -v '^WARNING: Location' || true; }
"$V/bin/python" - <<'PY'
import stevedore
names = stevedore.ExtensionManager('cyborg.accelerator.driver').names()
assert 'fake_driver' in names, names
print('cyborg drivers:', ' '.join(sorted(names)))
PY
