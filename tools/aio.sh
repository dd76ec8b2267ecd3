#!/bin/bash
# Start the all-in-one pool on the embedded default (SQLite, in-process
# messaging, simulated accelerators). Installs what it needs first.
set -eu
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/tools/venv.sh"
exec "${POOLING_VENV:-$ROOT/.venv}/bin/pooling-aio" "$@"
