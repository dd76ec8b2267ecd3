#!/bin/bash
# The whole test suite: unit tests, then functional tests on real MariaDB,
# PostgreSQL and RabbitMQ. Installs what it needs (tools/venv.sh) and starts any
# service that is down (tools/ensure-services.sh). Extra args go to pytest.
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash tools/venv.sh || { echo "0 passed, 1 failed"; exit 1; }
bash tools/ensure-services.sh
PY="${POOLING_VENV:-$ROOT/.venv}/bin/python"
"$PY" -m pytest -q -p no:cacheprovider tests "$@"
