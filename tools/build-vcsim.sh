#!/bin/bash
# Build the vCenter simulator the vmware platform tests run against (tests/fixtures/vcsim):
# our main.go on the simulator library of Debian's golang-github-vmware-govmomi-dev (Debian
# ships no vcsim binary). Cached under .cache/vcsim/ by the hash of main.go and the library's
# version, so only the first run builds (~15-35 s). Prints the binary's path.
set -eu
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$ROOT/tests/fixtures/vcsim/poolsim"
LIB=/usr/share/gocode/src/github.com/vmware/govmomi
command -v go >/dev/null && [ -d "$LIB/simulator" ] || {
    echo "build-vcsim: needs golang-go and golang-github-vmware-govmomi-dev (tools/ci-deps.sh)" >&2
    exit 2
}
KEY="$( (cat "$SRC/main.go"; dpkg-query -W -f='${Version}' golang-github-vmware-govmomi-dev 2>/dev/null; go version) | sha256sum | cut -c1-16)"
OUT="$ROOT/.cache/vcsim/$KEY"
if [ ! -x "$OUT/poolsim" ]; then
    mkdir -p "$OUT"
    (cd "$SRC" && GO111MODULE=off GOPATH="$OUT/gopath:/usr/share/gocode" GOCACHE="$ROOT/.cache/vcsim/gocache" \
        go build -o "$OUT/poolsim.tmp" .)
    mv "$OUT/poolsim.tmp" "$OUT/poolsim"
fi
echo "$OUT/poolsim"
