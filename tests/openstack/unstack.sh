#!/bin/bash
# Stop every process stack.sh (or pooling-up.sh) started, by the pids it
# recorded; wait for oslo.service's graceful shutdown (about 10 s), then kill
# what is left. The shared MariaDB and RabbitMQ are left running.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E=${E2E_DIR:-$(cd "$HERE/../.." && pwd)/.e2e}
pids=()
for f in "$E"/pids/*; do
  [ -f "$f" ] || continue
  p=$(cat "$f")
  kill -- "-$p" 2>/dev/null || kill "$p" 2>/dev/null && pids+=("$p")
  rm -f "$f"
done
for _ in $(seq 1 60); do
  left=0
  for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && left=1; done
  [ $left = 0 ] && break
  sleep 0.5
done
for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && kill -9 -- "-$p" 2>/dev/null; done
echo "unstack: stopped ${#pids[@]} processes"
