#!/usr/bin/env bash
# Compares a 3-node chkv cluster (`chkv cluster`) with a 3-node Redis Cluster
# (redis-server --cluster-enabled yes) in the same run: redis-benchmark
# --cluster, interleaved rounds, medians and ratios; -P 16 runs 8 times the
# requests of -P 1 (see below).
#
# REPLICAS=1 (the replicated mode) gives chkv one in-sync replica per slot
# and Redis Cluster one (asynchronous) replica per master: 3 masters and 3
# replicas. REPLICAS=0, the default, runs neither with replicas.
#
# Usage: [REPLICAS=R] bench/compare-cluster.sh [rounds] [requests]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
ROUNDS=${1:-5}
N=${2:-200000}
REPLICAS=${REPLICAS:-0}
RN=$((3 * (REPLICAS + 1))) # Redis servers: masters and their replicas
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT

require_tools redis-server redis-benchmark redis-cli python3
go build -o "$TMP/chkv" ./cmd/chkv

# A failing step says which line, instead of ending the run silently.
trap 'echo "compare-cluster.sh: line $LINENO failed (exit $?)" >&2' ERR

# Pick both port ranges before starting anything, apart from each other.
CBASE=$(free_ports 4)
RBASE=$(free_ports $RN)
# chkv takes CBASE..CBASE+3; Redis RBASE..RBASE+RN-1 and its bus ports RBASE+10000..
overlap() { local a=$1 b=$2; [ $a -lt $((b + 4)) ] && [ $b -lt $((a + RN)) ]; }
while overlap $RBASE $CBASE || overlap $((RBASE + 10000)) $CBASE; do RBASE=$(free_ports $RN); done
"$TMP/chkv" cluster --port $CBASE --datanodes 3 --replicas $REPLICAS >"$TMP/chkv.log" 2>&1 &
for i in $(seq 0 $((RN - 1))); do
  p=$((RBASE + i)); mkdir -p "$TMP/r$p"
  (cd "$TMP/r$p" && exec redis-server --port $p --bind 127.0.0.1 --cluster-enabled yes --cluster-config-file nodes.conf \
    --save "" --appendonly no >"$TMP/redis$p.log" 2>&1) &
done
for i in $(seq 0 $((RN - 1))); do for _ in $(seq 100); do redis-cli -p $((RBASE + i)) ping >/dev/null 2>&1 && break; sleep 0.05; done; done
nodes=$(for i in $(seq 0 $((RN - 1))); do printf '127.0.0.1:%d ' $((RBASE + i)); done)
redis-cli --cluster create $nodes --cluster-replicas $REPLICAS --cluster-yes >"$TMP/create.log" 2>&1 ||
  { echo "redis-cli --cluster create failed:"; cat "$TMP/create.log" "$TMP"/redis*.log; exit 1; }
for _ in $(seq 200); do redis-cli -p $RBASE cluster info | grep -q cluster_state:ok && break; sleep 0.05; done
if [ "$REPLICAS" -gt 0 ]; then # wait for the replicas' initial sync
  for _ in $(seq 200); do [ "$(redis-cli -p $RBASE cluster nodes | grep -c 'slave.*connected')" -ge 3 ] && break; sleep 0.05; done
fi
for _ in $(seq 200); do grep -q ready "$TMP/chkv.log" && break; sleep 0.05; done
grep -q ready "$TMP/chkv.log" || { echo "chkv cluster did not become ready"; cat "$TMP/chkv.log"; exit 1; }

echo "redis: $(redis-server --version | awk '{print $3}')  chkv: $("$TMP/chkv" version)  replicas: $REPLICAS  cpus: $(nproc)  rounds: $ROUNDS  requests: $N (-P 16: $((N * 8)))  load: $(cut -d' ' -f1 /proc/loadavg)"
# redis-benchmark --cluster runs a thread per master, and its threads stop
# on a 250 ms timer tick, so a run's time is known to 250 ms only: at -P 16
# N requests take about a second, so -P 16 runs 8 times N.
P16_SCALE=8 bench_rounds $ROUNDS $N $RBASE $((CBASE + 1)) --cluster
echo
print_ratios "Redis Cluster"
