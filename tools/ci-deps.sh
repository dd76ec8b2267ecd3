#!/bin/bash
# Debian packages the test suite needs beyond Python (run as root before the tests; idempotent:
# apt-get installs only what is missing). .ci/run calls it; a developer may too.
#
#   podman runc busybox-static  a real OCI runtime for the CDI tests (tests/functional/platforms/
#                               podman_rig.py): podman 4.3 + runc, a busybox rootfs, no image pull
#   golang-github-container-orchestrated-devices-container-device-interface-dev
#                               the CDI JSON schema (schema.json, defs.json) the CDI specs are
#                               validated against; source package only, nothing is built
#
#   golang-go golang-github-vmware-govmomi-dev
#                               the vCenter simulator for the vmware tests: our main.go
#                               (tests/fixtures/vcsim) on Debian's govmomi simulator library,
#                               built once by tools/build-vcsim.sh into .cache/vcsim
#   libvirt-dev pkg-config gcc  libvirt's test driver for the libvirt tests: tools/venv.sh builds
#                               libvirt-python against it when it is present
#   qemu-system-x86             QEMU itself, started paused for a moment, checks that it accepts
#                               the firmware config entries the libvirt driver writes (the test
#                               driver takes any; QEMU refuses names over 55 characters)
#   nginx-light                 tests/functional/test_slow_bodies.py runs pooling-api behind
#                               etc/pooling/nginx/pooling-api.conf (the documented deployment)
#   chromium chromium-driver    the dashboard's headless browser tests (tests/dashboard/
#                               test_browser.py skips, saying so, without them)
#   iproute2 util-linux         network namespaces (ip netns) for the remote data plane tests and
#                               unshare for LUPINE's confinement
#
# Other helpers append their own lines to PACKAGES (one group per platform, with why).
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${POOLING_VENV:-$ROOT/.venv}"
CONSTRAINTS="${TOX_CONSTRAINTS_FILE:-$ROOT/upper-constraints.txt}"
PACKAGES=(
    # containers (CDI)
    podman runc busybox-static
    golang-github-container-orchestrated-devices-container-device-interface-dev
    # vmware (vCenter simulator) and libvirt (test driver)
    golang-go golang-github-vmware-govmomi-dev libvirt-dev pkg-config gcc qemu-system-x86
    # the API behind its documented buffering front end
    nginx-light
    # remote data plane: namespaces
    iproute2 util-linux
    # dashboard browser tests
    chromium chromium-driver
)
missing=()
for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
        || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "ci-deps: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    { apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null && \
             apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; }; } \
        || echo "ci-deps: could not install ${missing[*]}; the tests that need them skip" >&2
fi

# The project's venv (built after the Debian packages: libvirt-python needs libvirt-dev).
bash "$ROOT/tools/venv.sh" || echo "ci-deps: tools/venv.sh failed" >&2

# The dashboard's Python side (Horizon 27, Django, selenium, pytest-django, pinned by
# upper-constraints.txt but for Horizon's own line) in the project's venv: without it
# tests/dashboard is left out.
if [ -x "$VENV/bin/pip" ]; then
    STAMP="$VENV/.pooling-dashboard-installed"
    if [ ! -f "$STAMP" ] || [ "$ROOT/dashboard-requirements.txt" -nt "$STAMP" ]; then
        # NOTE: the constraints' horizon===26.0.0 would refuse the Horizon 27 the plugin targets;
        # every other pin (Django 5.2.x among them) still applies.
        DASH_CONSTRAINTS="$VENV/.dashboard-constraints.txt"
        grep -v '^horizon===' "$CONSTRAINTS" > "$DASH_CONSTRAINTS"
        if "$VENV/bin/pip" install -q -c "$DASH_CONSTRAINTS" -r "$ROOT/dashboard-requirements.txt" \
                2> >(grep -v "WARNING: Location" >&2); then
            touch "$STAMP"
        else
            echo "ci-deps: dashboard requirements NOT installed: tests/dashboard is left out" >&2
        fi
    fi
fi
exit 0
