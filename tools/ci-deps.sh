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
# Other helpers append their own lines to PACKAGES (one group per platform, with why).
set -eu
PACKAGES=(
    # containers (CDI)
    podman runc busybox-static
    golang-github-container-orchestrated-devices-container-device-interface-dev
)
missing=()
for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
        || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q "${missing[@]}"
