#!/bin/bash
# Refresh upper-constraints.txt (the pins tools/venv.sh and tox install with)
# from OpenStack's published list: openstack/requirements at COMMIT or BRANCH
# (default stable/2026.2, falling back to master while the branch is not cut).
# Review the diff, run the suite, commit.
set -eu
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REF="${1:-stable/2026.2}"
BASE=https://opendev.org/openstack/requirements/raw
if [[ "$REF" =~ ^[0-9a-f]{40}$ ]]; then
    URL="$BASE/commit/$REF/upper-constraints.txt"
else
    URL="$BASE/branch/$REF/upper-constraints.txt"
fi
TMP="$(mktemp)"; trap 'rm -f "$TMP"' EXIT
curl -fsSL "$URL" -o "$TMP" || { echo "cannot read $URL" >&2; exit 1; }
grep -q '^oslo.config===' "$TMP" || { echo "$URL does not look like upper-constraints.txt" >&2; exit 1; }
{ echo "# The OpenStack 2026.2 upper constraints this project is tested with: a verbatim copy of"
  echo "# openstack/requirements upper-constraints.txt at $REF ($(date -u +%F))."
  echo "# Refresh with tools/update-constraints.sh [COMMIT|BRANCH]. TOX_CONSTRAINTS_FILE"
  echo "# overrides it for tools/venv.sh and tox."
  cat "$TMP"; } > "$ROOT/upper-constraints.txt"
echo "upper-constraints.txt now from $URL"
