#!/bin/bash
# Start the real services the functional tests use (MariaDB, PostgreSQL,
# RabbitMQ) when one is down. This machine kind pre-starts them; CI and fresh
# machines may not, so every test run calls this first. Idempotent.
set -u
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { for _ in $(seq 1 60); do port_open "$1" && return 0; sleep 1; done; return 1; }

if ! port_open 3306; then
    echo "ensure-services: starting MariaDB" >&2
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql \
        || service mariadb start
    wait_port 3306 || echo "ensure-services: MariaDB did not come up" >&2
fi
if ! port_open 5432; then
    echo "ensure-services: starting PostgreSQL" >&2
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start \
        || service postgresql start
    wait_port 5432 || echo "ensure-services: PostgreSQL did not come up" >&2
fi
if ! port_open 5672; then
    echo "ensure-services: starting RabbitMQ" >&2
    rabbitmq-server -detached || service rabbitmq-server start
    wait_port 5672 || echo "ensure-services: RabbitMQ did not come up" >&2
fi
exit 0
