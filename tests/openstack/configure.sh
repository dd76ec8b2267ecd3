#!/bin/bash
# Write every config of the e2e stack under $E2E_DIR: Keystone issues every
# token (no no-auth filter anywhere); each service validates tokens with
# keystonemiddleware and calls its neighbours with its own Keystone user.
# Upstream api-paste files are used unchanged, from the venv.
# usage: [E2E_DIR=DIR] [E2E_CYBORG_DRIVERS=fake_driver,pooling] configure.sh
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E=${E2E_DIR:-$(cd "$HERE/../.." && pwd)/.e2e}
mkdir -p "$E"; E=$(cd "$E" && pwd)
V=${E2E_VENV:-$E/combo-venv}
DRIVERS=${E2E_CYBORG_DRIVERS:-fake_driver,pooling}
PW=${E2E_PASSWORD:-secret}
HOST=${E2E_HOST:-e2e-host-1}
RMQ_URL="rabbit://guest:guest@127.0.0.1:5672/e2e"
KS=http://127.0.0.1:5000
mkdir -p "$E"/{keystone,placement,glance,nova,nova-metadata,cyborg}/etc "$E"/{logs,pids} \
  "$E/keystone/fernet-keys" "$E/keystone/credential-keys"

# authsection SECTION USER: keystoneauth password options for one service user
authsection() {
  cat <<EOC
[$1]
auth_type = password
auth_url = $KS/v3
username = $2
password = $PW
project_name = service
user_domain_name = Default
project_domain_name = Default
region_name = RegionOne
EOC
}
# authtoken USER: keystonemiddleware's section for an API validating tokens
authtoken() {
  authsection keystone_authtoken "$1"
  echo "www_authenticate_uri = $KS/v3"
  echo "service_token_roles_required = True"
}

cat > "$E/keystone/etc/keystone.conf" <<EOC
[DEFAULT]
log_file = $E/logs/keystone.log
[database]
connection = @DB:keystone@
[token]
provider = fernet
[fernet_tokens]
key_repository = $E/keystone/fernet-keys
[fernet_receipts]
key_repository = $E/keystone/fernet-keys
[credential]
key_repository = $E/keystone/credential-keys
EOC

{ cat <<EOC
[DEFAULT]
log_file = $E/logs/placement.log
[api]
auth_strategy = keystone
[placement_database]
connection = @DB:placement@
EOC
  authtoken placement; } > "$E/placement/etc/placement.conf"

{ cat <<EOC
[DEFAULT]
log_file = $E/logs/glance-api.log
enabled_backends = fs:file
[database]
connection = @DB:glance@
[paste_deploy]
flavor = keystone
[glance_store]
default_backend = fs
[fs]
filesystem_store_datadir = $E/glance/images
[os_glance_staging_store]
filesystem_store_datadir = $E/glance/staging
[os_glance_tasks_store]
filesystem_store_datadir = $E/glance/tasks
EOC
  authtoken glance; } > "$E/glance/etc/glance-api.conf"
cp "$V/etc/glance/glance-api-paste.ini" "$E/glance/etc/"
# nova-api reads api-paste.ini from OS_NOVA_CONFIG_DIR, beside nova.conf
cp "$V/etc/nova/api-paste.ini" "$E/nova/etc/"

# nova: nova.conf (api, conductor, scheduler) and nova-cpu.conf (compute: no DB)
nova_common() {
  cat <<EOC
[DEFAULT]
debug = True
host = $HOST
compute_driver = fake.FakeDriverWithoutFakeNodes
transport_url = $RMQ_URL
state_path = $E/nova/state
instances_path = $E/nova/state/instances
my_ip = 127.0.0.1
heal_instance_info_cache_interval = -1
osapi_compute_workers = 1
metadata_workers = 1
[wsgi]
api_paste_config = $E/nova/etc/api-paste.ini
[conductor]
workers = 1
[scheduler]
workers = 1
discover_hosts_in_cells_interval = 5
[compute]
# Cyborg adds and deletes the deployables' resource providers under the compute node's; nova-compute
# caches that tree and, until it refreshes it, fails a claim with 404 on a provider Cyborg deleted
# (a pool profile deleted, then a server booted). A short refresh keeps the cache in step, as an
# operator running Cyborg would set it.
resource_provider_association_refresh = 10
[cyborg]
region_name = RegionOne
[glance]
api_servers = http://127.0.0.1:9292
[oslo_concurrency]
lock_path = $E/nova/lock
[oslo_messaging_notifications]
driver = noop
[vnc]
enabled = False
[service_user]
send_service_user_token = True
EOC
  authsection service_user nova | tail -n +2
  authsection placement placement
  authsection neutron nova
  echo "endpoint_override = http://127.0.0.1:9696"
  authtoken nova
}
{ nova_common; cat <<EOC
[api_database]
connection = @DB:nova_api@
[database]
connection = @DB:nova@
EOC
} > "$E/nova/etc/nova.conf"
nova_common > "$E/nova/etc/nova-cpu.conf"

{ cat <<EOC
[DEFAULT]
debug = True
host = $HOST
transport_url = $RMQ_URL
periodic_interval = 10
[api]
host_ip = 127.0.0.1
port = 6666
api_workers = 1
api_paste_config = $V/etc/cyborg/api-paste.ini
[database]
connection = @DB:cyborg@
[agent]
enabled_drivers = $DRIVERS
resource_provider_name = $HOST
[oslo_concurrency]
lock_path = $E/cyborg/lock
EOC
  authsection placement cyborg
  authsection nova cyborg
  authtoken cyborg
  # our driver inside cyborg-agent: how it reaches the pool (catalog type accelerator-pool)
  authsection pooling cyborg
  echo "service_type = accelerator-pool"
} > "$E/cyborg/etc/cyborg.conf"

# the admin's and the tenant's clouds.yaml for the openstack CLI
cat > "$E/clouds.yaml" <<EOC
clouds:
  e2e-admin:
    auth: {auth_url: "$KS/v3", username: admin, password: "$PW", project_name: admin,
           user_domain_name: Default, project_domain_name: Default}
    region_name: RegionOne
    identity_api_version: 3
  e2e-demo:
    auth: {auth_url: "$KS/v3", username: demo, password: "$PW", project_name: demo,
           user_domain_name: Default, project_domain_name: Default}
    region_name: RegionOne
    identity_api_version: 3
EOC
echo "configured $E (cyborg drivers: $DRIVERS)"
