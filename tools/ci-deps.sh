#!/bin/bash
# Debian packages the functional tests need beyond the services that
# tools/ensure-services.sh starts. Idempotent; a no-op when all are present.
#   nginx-light: tests/functional/test_slow_bodies.py runs pooling-api behind
#                etc/pooling/nginx/pooling-api.conf (the documented deployment).
set -u
missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
if [ ${#missing[@]} -gt 0 ]; then
    echo "ci-deps: installing ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null \
        || { apt-get update -q >/dev/null && \
             DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null; }
fi
exit 0
