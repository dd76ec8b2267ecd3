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
#   nginx-light                 tests/functional/test_slow_bodies.py runs pooling-api behind
#                               etc/pooling/nginx/pooling-api.conf (the documented deployment)
#   iproute2 util-linux         network namespaces (ip netns) for the remote data plane tests and
#                               unshare for LUPINE's confinement
#
# Other helpers append their own lines to PACKAGES (one group per platform, with why).
set -eu
PACKAGES=(
    # containers (CDI)
    podman runc busybox-static
    golang-github-container-orchestrated-devices-container-device-interface-dev
    # vmware (vCenter simulator) and libvirt (test driver)
    golang-go golang-github-vmware-govmomi-dev libvirt-dev pkg-config gcc
    # the API behind its documented buffering front end
    nginx-light
    # remote data plane: namespaces
    iproute2 util-linux
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
