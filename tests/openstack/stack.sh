#!/bin/bash
# Bring up Keystone, Placement, Glance, Nova (fake virt driver) and Cyborg
# (api, conductor, agent) on 127.0.0.1, on the pre-started MariaDB and
# RabbitMQ (reused, never restarted), every process started detached with its
# pid in $E2E_DIR/pids for unstack.sh. Order matters: Keystone -> Placement ->
# Glance -> Nova (compute RP registered) -> Cyborg conductor (queue consumed)
# -> cyborg-api -> cyborg-agent (needs the compute RP).
# usage: [E2E_DIR=DIR] [E2E_DEVICE_RP=NAME] stack.sh   (after install.sh + configure.sh)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E=${E2E_DIR:-$(cd "$HERE/../.." && pwd)/.e2e}
E=$(cd "$E" && pwd)
V=${E2E_VENV:-$E/combo-venv}
PW=${E2E_PASSWORD:-secret}
HOST=${E2E_HOST:-e2e-host-1}
DEVICE_RP=${E2E_DEVICE_RP:-${HOST}_FakeDevice}
PREFIX=${E2E_DB_PREFIX-e2e_}
T0=$(date +%s)
log() { echo "[$(date +%T)] $*"; }
die() { echo "stack.sh: $*" >&2; exit 1; }
start() {  # start NAME CMD...: detached, output in logs/NAME.out, pid in pids/NAME
  local name=$1; shift
  setsid "$@" > "$E/logs/$name.out" 2>&1 < /dev/null &
  echo $! > "$E/pids/$name"
}
wait_http() {  # wait_http URL [seconds]
  local i
  for ((i=0; i<${2:-90}*5; i++)); do curl -s -m 2 -o /dev/null "$1" && return 0; sleep 0.2; done
  die "timeout waiting for $1"
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
dburl() { echo "mysql+pymysql://e2e:e2e@127.0.0.1/$PREFIX$1?charset=utf8"; }
mkdir -p "$E/logs" "$E/pids"
rm -f "$E"/logs/*

for port in 5000 8778 9292 9696 8774 6666; do
  port_open $port && die "port $port busy: run unstack.sh"
done

# --- MariaDB and RabbitMQ: pre-started on this machine kind; start one only if absent
bash "$HERE/../../tools/ensure-services.sh"
port_open 3306 || die "no MariaDB on 127.0.0.1:3306"
port_open 5672 || die "no RabbitMQ on 127.0.0.1:5672"
MYSQL=(mysql -h 127.0.0.1 -P 3306 -u root)
"${MYSQL[@]}" -e 'select 1' >/dev/null 2>&1 || MYSQL=(mysql -u root)   # socket auth (Debian package)
DBS="keystone placement glance nova_api nova_cell0 nova cyborg pooling"
SQL="CREATE USER IF NOT EXISTS 'e2e'@'127.0.0.1' IDENTIFIED BY 'e2e';"
for d in $DBS; do
  SQL+="DROP DATABASE IF EXISTS $PREFIX$d; CREATE DATABASE $PREFIX$d CHARACTER SET utf8;"
  SQL+="GRANT ALL PRIVILEGES ON $PREFIX$d.* TO 'e2e'@'127.0.0.1';"
done
"${MYSQL[@]}" -e "$SQL"
for f in "$E"/*/etc/*.conf; do   # @DB:name@ -> connection URL
  sed -i -E "s#@DB:([a-z_0-9]+)@#mysql+pymysql://e2e:e2e@127.0.0.1/$PREFIX\1?charset=utf8#" "$f"
done
RMQ=(rabbitmqctl -q)
"${RMQ[@]}" status >/dev/null 2>&1 || RMQ=(rabbitmqctl -q -n rabbit@localhost)
"${RMQ[@]}" delete_vhost e2e >/dev/null 2>&1 || true
"${RMQ[@]}" add_vhost e2e >/dev/null
"${RMQ[@]}" set_permissions -p e2e guest '.*' '.*' '.*' >/dev/null
rm -rf "$E/nova/state" "$E/glance/images" "$E/glance/staging" "$E/glance/tasks" \
  "$E"/keystone/fernet-keys/* "$E"/keystone/credential-keys/*
mkdir -p "$E/nova/state" "$E/nova/lock" "$E/cyborg/lock" "$E/glance/images"

# --- Keystone
log "keystone"
KM=("$V/bin/keystone-manage" --config-file "$E/keystone/etc/keystone.conf")
"${KM[@]}" db_sync >/dev/null 2>&1
"${KM[@]}" fernet_setup --keystone-user root --keystone-group root >/dev/null 2>&1
"${KM[@]}" credential_setup --keystone-user root --keystone-group root >/dev/null 2>&1
"${KM[@]}" bootstrap --bootstrap-password "$PW" --bootstrap-region-id RegionOne \
  --bootstrap-admin-url http://127.0.0.1:5000/v3 --bootstrap-internal-url http://127.0.0.1:5000/v3 \
  --bootstrap-public-url http://127.0.0.1:5000/v3 >/dev/null 2>&1
# NOTE: keep-alive well above 2 s. The openstack CLI's --wait polls every 2 s on a
# kept-alive connection; with gunicorn's default of 2 s the server closed it just as the
# next poll went out ("Remote end closed connection without response").
G=("$V/bin/gunicorn" --workers 1 --threads 4 --keep-alive 30 --pythonpath "$HERE/harness")
start keystone env OS_KEYSTONE_CONFIG_DIR="$E/keystone/etc" "${G[@]}" --bind 127.0.0.1:5000 \
  --access-logfile "$E/logs/keystone-access.log" 'wsgi_shims:keystone()'
wait_http http://127.0.0.1:5000/v3
"$V/bin/python" "$HERE/harness/keystone_setup.py" http://127.0.0.1:5000/v3 "$PW" "$PW"
TOKEN=$("$V/bin/python" - "$PW" <<'PY'
import sys
from keystoneauth1 import session
from keystoneauth1.identity import v3
a = v3.Password(auth_url="http://127.0.0.1:5000/v3", username="admin", password=sys.argv[1],
                project_name="admin", user_domain_id="default", project_domain_id="default")
print(session.Session(auth=a).get_token())
PY
)
PH=(-H "X-Auth-Token: $TOKEN" -H "OpenStack-API-Version: placement 1.39")

# --- Placement, Glance, Neutron stand-in
log "placement"
"$V/bin/placement-manage" --config-file "$E/placement/etc/placement.conf" db sync
start placement-api env OS_PLACEMENT_CONFIG_DIR="$E/placement/etc" "${G[@]}" \
  --bind 127.0.0.1:8778 --access-logfile "$E/logs/placement-access.log" placement.wsgi.api:application
"$V/bin/glance-manage" --config-file "$E/glance/etc/glance-api.conf" db_sync >/dev/null 2>&1
start glance-api env OS_GLANCE_CONFIG_DIR="$E/glance/etc" "${G[@]}" --bind 127.0.0.1:9292 \
  --access-logfile "$E/logs/glance-access.log" glance.wsgi.api:application
start neutron-stub "$V/bin/python" "$HERE/harness/neutron_stub.py" 9696

# --- Nova
log "nova db"
NM=("$V/bin/nova-manage" --config-file "$E/nova/etc/nova.conf")
"${NM[@]}" api_db sync >/dev/null 2>&1
"${NM[@]}" cell_v2 map_cell0 --database_connection "$(dburl nova_cell0)" >/dev/null 2>&1
"${NM[@]}" db sync >/dev/null 2>&1
"${NM[@]}" cell_v2 create_cell --name cell1 >/dev/null 2>&1
start nova-api env OS_NOVA_CONFIG_DIR="$E/nova/etc" "${G[@]}" --bind 127.0.0.1:8774 \
  --access-logfile "$E/logs/nova-api-access.log" 'wsgi_shims:nova_api()'
for s in conductor scheduler; do
  start nova-$s "$V/bin/nova-$s" --config-file "$E/nova/etc/nova.conf" --log-file "$E/logs/nova-$s.log"
done
start nova-compute "$V/bin/nova-compute" --config-file "$E/nova/etc/nova-cpu.conf" \
  --log-file "$E/logs/nova-compute.log"

wait_http http://127.0.0.1:9292/
log "glance image"
IMG=$(curl -sf -X POST http://127.0.0.1:9292/v2/images -H "X-Auth-Token: $TOKEN" \
  -H "Content-Type: application/json" \
  -d '{"name":"e2e-image","disk_format":"raw","container_format":"bare","visibility":"public"}' \
  | python3 -c 'import json,sys;print(json.load(sys.stdin)["id"])')
head -c 1048576 /dev/zero | curl -sf -X PUT "http://127.0.0.1:9292/v2/images/$IMG/file" \
  -H "X-Auth-Token: $TOKEN" -H "Content-Type: application/octet-stream" --data-binary @-
echo "$IMG" > "$E/image_id"

rp_count() {
  curl -s -m 2 "${PH[@]}" "http://127.0.0.1:8778/resource_providers?name=$1" \
    | python3 -c 'import json,sys;print(len(json.load(sys.stdin)["resource_providers"]))' 2>/dev/null \
    || echo 0
}
wait_rp() {  # wait_rp NAME SECONDS
  local i
  for ((i=0; i<$2*5; i++)); do [ "$(rp_count "$1")" = 1 ] && return 0; sleep 0.2; done
  die "resource provider $1 never appeared (see $E/logs)"
}
log "waiting for the compute RP $HOST"
wait_rp "$HOST" 120
"${NM[@]}" cell_v2 discover_hosts >/dev/null 2>&1
wait_http http://127.0.0.1:8774/

# --- Cyborg
log "cyborg"
"$V/bin/cyborg-dbsync" --config-file "$E/cyborg/etc/cyborg.conf" upgrade >/dev/null 2>&1
start cyborg-conductor "$V/bin/cyborg-conductor" --config-file "$E/cyborg/etc/cyborg.conf" \
  --log-file "$E/logs/cyborg-conductor.log"
# the agent's first report is lost (60 s RPC timeout) if nobody consumes the queue yet
for ((i=0; i<300; i++)); do
  "${RMQ[@]}" list_queues -p e2e name consumers 2>/dev/null | grep -qP '^cyborg-conductor\t[1-9]' && break
  sleep 0.2
done
start cyborg-api env CYBORG_CONF="$E/cyborg/etc/cyborg.conf" SCRIPT_NAME=/accelerator "${G[@]}" \
  --bind 127.0.0.1:6666 --access-logfile "$E/logs/cyborg-api-access.log" 'wsgi_shims:cyborg()'
start cyborg-agent "$V/bin/cyborg-agent" --config-file "$E/cyborg/etc/cyborg.conf" \
  --log-file "$E/logs/cyborg-agent.log"
wait_http http://127.0.0.1:6666/accelerator/
if [ -n "$DEVICE_RP" ]; then
  log "waiting for the device RP $DEVICE_RP"
  wait_rp "$DEVICE_RP" 120
fi
log "stack up in $(( $(date +%s) - T0 )) s"
