#!/bin/bash
# Start the pool beside the e2e stack (after stack.sh): pooling-api under
# gunicorn on 127.0.0.1:6388 validating Keystone tokens, pooling-conductor and
# one pooling-agent named like the Nova compute host (sim cards); the conductor
# runs the Cyborg sync ([cyborg] enabled) and keeps the reserved inventory of
# our deployables in Placement ([placement], the pooling service user), naming the
# vGPU of a Nova server after it ([nova]: the pooling user, admin, reads servers of
# every project). On MariaDB
# database e2e_pooling and RabbitMQ vhost e2e; and Nova's metadata API on 8775
# with our vendordata target. Processes run from the project's venv; pids go
# where unstack.sh finds them.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
E=${E2E_DIR:-$ROOT/.e2e}; E=$(cd "$E" && pwd)
PV=${POOLING_VENV:-$ROOT/.venv}
V=${E2E_VENV:-$E/combo-venv}
PW=${E2E_PASSWORD:-secret}
HOST=${E2E_HOST:-e2e-host-1}
SIM=${E2E_SIM_DEVICES:-nvidia:A100-SXM4-80GB:81920:108:2}
SECRET=${E2E_METADATA_SECRET:-e2e-metadata-secret}
log() { echo "[$(date +%T)] $*"; }
start() {
  local name=$1; shift
  setsid "$@" > "$E/logs/$name.out" 2>&1 < /dev/null &
  echo $! > "$E/pids/$name"
}
wait_http() {
  local i
  for ((i=0; i<${2:-60}*5; i++)); do curl -s -m 2 -o /dev/null "$1" && return 0; sleep 0.2; done
  echo "pooling-up.sh: timeout waiting for $1" >&2; exit 1
}
auth() {  # auth SECTION USER
  printf '[%s]\nauth_type = password\nauth_url = http://127.0.0.1:5000/v3\n' "$1"
  printf 'username = %s\npassword = %s\nproject_name = service\n' "$2" "$PW"
  printf 'user_domain_name = Default\nproject_domain_name = Default\nregion_name = RegionOne\n'
}
mkdir -p "$E/pooling/etc"
C=$E/pooling/etc/pooling.conf
{ cat <<EOC
[DEFAULT]
transport_url = rabbit://guest:guest@127.0.0.1:5672/e2e
control_exchange = pooling
log_file = $E/logs/pooling.log
[database]
connection = mysql+pymysql://e2e:e2e@127.0.0.1/${E2E_DB_PREFIX-e2e_}pooling?charset=utf8
[api]
host = 127.0.0.1
port = 6388
auth_strategy = keystone
[agent]
host = $HOST
fabric = e2e-fabric
sim_devices = $SIM
report_interval = 3
state_dir = $E/pooling-agent
[gateway]
auto_pki_dir = $E/pooling-pki
[conductor]
reconcile_interval = 3
[cyborg]
enabled = true
sync_interval = 3
published_cache_seconds = 0
held_slots_per_profile = ${E2E_HELD_SLOTS:-0}
EOC
  auth cyborg pooling | tail -n +2
  auth placement pooling
  auth nova pooling
  echo "timeout = 5"
  auth keystone_authtoken pooling
  echo "www_authenticate_uri = http://127.0.0.1:5000/v3"
} > "$C"
start_conductor_and_api() {
  start pooling-conductor "$PV/bin/pooling-conductor" --config-file "$C"
  start pooling-api env POOLING_CONFIG_FILES="$C" "$PV/bin/gunicorn" --bind 127.0.0.1:6388 \
    --workers 1 --threads 4 --keep-alive 30 --access-logfile "$E/logs/pooling-api-access.log" \
    pooling_api.wsgi:application
  wait_http http://127.0.0.1:6388/
}
if [ "${1:-}" = --restart ]; then
  # The e2e tests' way to change the pool's config (E2E_HELD_SLOTS): the
  # conductor and the API start again on the rewritten file; the agent stays.
  for name in pooling-conductor pooling-api; do
    p=$(cat "$E/pids/$name")
    kill -- "-$p" 2>/dev/null || kill "$p" 2>/dev/null || true
    for ((i=0; i<150; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 -- "-$p" 2>/dev/null || true
  done
  log "pooling conductor and API restarted (held slots ${E2E_HELD_SLOTS:-0})"
  start_conductor_and_api
  exit 0
fi
log "pooling db"
"$PV/bin/pooling-manage" --config-file "$C" db sync
start pooling-agent "$PV/bin/pooling-agent" --config-file "$C"
start_conductor_and_api

log "nova metadata API with the pooling vendordata target"
M=$E/nova-metadata/etc
mkdir -p "$M"
cp "$E/nova/etc/api-paste.ini" "$M/"
{ sed -e "s#^\[DEFAULT\]#[DEFAULT]\nmetadata_listen = 127.0.0.1#" "$E/nova/etc/nova.conf"
  cat <<EOC
[api]
vendordata_providers = StaticJSON,DynamicJSON
vendordata_dynamic_targets = pooling@http://127.0.0.1:6388/v1/vendordata
vendordata_dynamic_failure_fatal = True
EOC
  auth vendordata_dynamic_auth nova
} > "$M/nova.conf"
python3 - "$M/nova.conf" "$SECRET" <<'PY'
import sys
path, secret = sys.argv[1:]
s = open(path).read()
s = s.replace('[neutron]\n', '[neutron]\nservice_metadata_proxy = True\n'
              'metadata_proxy_shared_secret = %s\n' % secret, 1)
open(path, 'w').write(s)
PY
start nova-metadata env OS_NOVA_CONFIG_DIR="$M" "$V/bin/gunicorn" --bind 127.0.0.1:8775 \
  --workers 1 --threads 4 --keep-alive 30 --pythonpath "$HERE/harness" \
  --access-logfile "$E/logs/nova-metadata-access.log" 'wsgi_shims:nova_metadata()'
wait_http http://127.0.0.1:8775/
echo "$SECRET" > "$E/metadata_secret"
log "pooling up"
