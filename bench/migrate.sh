#!/usr/bin/env bash
# Measures a live rebalance, chkv against Redis Cluster in the same run:
# 3 nodes holding KEYS keys (100-byte values) get a 4th while clients keep
# reading and writing. chkv: bench/migrate runs a NameNode and one `chkv
# datanode` process per node on TCP loopback, the chkv Client and go-redis
# ClusterClient under load, and reads the move's figures from CHKV.STATUS.
# Redis Cluster: three redis-server masters loaded through go-redis, then
# redis-cli --cluster add-node and rebalance --cluster-use-empty-masters.
# Rounds alternate between the two; medians and the ratio are printed.
#
# Usage: bench/migrate.sh [rounds=3] [keys=1000000]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
ROUNDS=${1:-3}
KEYS=${2:-1000000}
REDIS_PIPELINE=${REDIS_PIPELINE:-10} # keys per MIGRATE in redis-cli --cluster rebalance (its default: 10)
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT
require_tools redis-server redis-cli python3
go build -o "$TMP/migrate" ./bench/migrate
go build -o "$TMP/chkv" ./cmd/chkv

redis_round() {
  local ports=() p i
  for i in 0 1 2 3; do
    p=$(free_ports 1); ports+=($p); mkdir -p "$TMP/data/$p"
    (cd "$TMP/data/$p" && exec redis-server --port $p --bind 127.0.0.1 --cluster-enabled yes \
      --cluster-config-file nodes.conf --save "" --appendonly no >"$TMP/redis$p.log" 2>&1) &
  done
  for p in "${ports[@]}"; do for _ in $(seq 100); do redis-cli -p $p ping >/dev/null 2>&1 && break; sleep 0.05; done; done
  redis-cli --cluster create 127.0.0.1:${ports[0]} 127.0.0.1:${ports[1]} 127.0.0.1:${ports[2]} --cluster-yes >"$TMP/create.log" 2>&1 || { cat "$TMP/create.log"; return 1; }
  for _ in $(seq 200); do redis-cli -p ${ports[0]} cluster info | grep -q cluster_state:ok && break; sleep 0.05; done
  "$TMP/migrate" -keys $KEYS -redis-pipeline $REDIS_PIPELINE -redis-seed 127.0.0.1:${ports[0]} -redis-new 127.0.0.1:${ports[3]} | tee -a "$TMP/redis.out"
  for p in "${ports[@]}"; do redis-cli -p $p shutdown nosave >/dev/null 2>&1 || true; done
  wait 2>/dev/null || true
  rm -rf "$TMP/data"
}

echo "redis: $(redis-server --version | awk '{print $3}')  cpus: $(nproc)  rounds: $ROUNDS  keys: $KEYS  rebalance pipeline: $REDIS_PIPELINE  load: $(cut -d' ' -f1 /proc/loadavg)"
for round in $(seq $ROUNDS); do
  echo "== round $round: chkv"
  "$TMP/migrate" -keys $KEYS -chkv "$TMP/chkv" | tee -a "$TMP/chkv.out"
  echo "== round $round: Redis Cluster"
  redis_round
done

c=$(grep -o 'rate: [0-9]* keys/s (copying)' "$TMP/chkv.out" | awk '{print $2}' | tr '\n' ' ' | median)
cw=$(grep -o '[0-9]* keys/s (join to stable)' "$TMP/chkv.out" | awk '{print $1}' | tr '\n' ' ' | median)
r=$(grep -o 'rate: [0-9]* keys/s (rebalance)' "$TMP/redis.out" | awk '{print $2}' | tr '\n' ' ' | median)
frac=$(grep -o '[0-9.]*x the minimum' "$TMP/chkv.out" | awk '{print $1}' | tr -d x | tr '\n' ' ' | median)
share=$(grep -o 'holds [0-9.]*% of the keys' "$TMP/chkv.out" | awk '{print $2}' | tr '\n' ' ' | median)
errs=$(grep -o '[0-9]* errors' "$TMP/chkv.out" | awk '{s+=$1} END {print s+0}')
rerrs=$(grep -o '[0-9]* errors' "$TMP/redis.out" | awk '{s+=$1} END {print s+0}')
echo
echo "| move of 1 node's share ($KEYS keys, 3 -> 4 nodes) | median keys/s |"
echo "|---|---:|"
printf "| chkv (copy: first batch to last flip) | %.0f |\n" $c
printf "| chkv (join to stable) | %.0f |\n" $cw
printf "| Redis Cluster (redis-cli --cluster rebalance, pipeline $REDIS_PIPELINE) | %.0f |\n" $r
printf "| chkv / Redis Cluster | %.1fx |\n" $(echo "$cw / $r" | bc -l)
echo
echo "chkv: moved ${frac}x the minimum, new node's share ${share}, client errors ${errs} (Redis Cluster run: ${rerrs})"
