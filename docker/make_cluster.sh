#!/usr/bin/env bash
# Start the Docker cluster and join the five nodes into one cluster (5 masters, 0 replicas).
set -euo pipefail
cd "$(dirname "$0")"
docker compose up -d
for port in 7000 7001 7002 7003 7004 7100; do
  for _ in $(seq 1 60); do
    docker compose exec -T redis1 redis-cli -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.5
  done
done
if ! docker compose exec -T redis1 redis-cli -p 7000 cluster info | grep -q 'cluster_slots_assigned:16384'; then
  docker compose exec -T redis1 redis-cli --cluster create \
    127.0.0.1:7000 127.0.0.1:7001 127.0.0.1:7002 127.0.0.1:7003 127.0.0.1:7004 \
    --cluster-replicas 0 --cluster-yes
fi
echo "Docker cluster ready on 127.0.0.1:7000-7004, standalone on 127.0.0.1:7100"
