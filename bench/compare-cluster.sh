#!/usr/bin/env bash
# Compares a 3-node chkv cluster (`chkv cluster`) with a 3-node Redis Cluster
# (redis-server --cluster-enabled yes, no replicas) in the same run:
# redis-benchmark --cluster, interleaved rounds, medians and ratios; -P 16
# runs 8 times the requests of -P 1 (see below).
#
# Usage: bench/compare-cluster.sh [rounds] [requests]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
ROUNDS=${1:-5}
N=${2:-200000}
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT

require_tools redis-server redis-benchmark redis-cli python3
go build -o "$TMP/chkv" ./cmd/chkv

# A failing step says which line, instead of ending the run silently.
trap 'echo "compare-cluster.sh: line $LINENO failed (exit $?)" >&2' ERR

# Pick both port ranges before starting anything, apart from each other.
CBASE=$(free_ports 4)
RBASE=$(free_ports 3)
# chkv takes CBASE..CBASE+3; Redis RBASE..RBASE+2 and its bus ports RBASE+10000..
overlap() { local a=$1 b=$2; [ $a -lt $((b + 4)) ] && [ $b -lt $((a + 3)) ]; }
while overlap $RBASE $CBASE || overlap $((RBASE + 10000)) $CBASE; do RBASE=$(free_ports 3); done
"$TMP/chkv" cluster --port $CBASE --datanodes 3 --replicas 0 >"$TMP/chkv.log" 2>&1 &
for i in 0 1 2; do
  p=$((RBASE + i)); mkdir -p "$TMP/r$p"
  (cd "$TMP/r$p" && exec redis-server --port $p --bind 127.0.0.1 --cluster-enabled yes --cluster-config-file nodes.conf \
    --save "" --appendonly no >"$TMP/redis$p.log" 2>&1) &
done
for i in 0 1 2; do for _ in $(seq 100); do redis-cli -p $((RBASE + i)) ping >/dev/null 2>&1 && break; sleep 0.05; done; done
redis-cli --cluster create 127.0.0.1:$RBASE 127.0.0.1:$((RBASE + 1)) 127.0.0.1:$((RBASE + 2)) --cluster-yes >"$TMP/create.log" 2>&1 ||
  { echo "redis-cli --cluster create failed:"; cat "$TMP/create.log" "$TMP"/redis*.log; exit 1; }
for _ in $(seq 200); do redis-cli -p $RBASE cluster info | grep -q cluster_state:ok && break; sleep 0.05; done
for _ in $(seq 200); do grep -q ready "$TMP/chkv.log" && break; sleep 0.05; done
grep -q ready "$TMP/chkv.log" || { echo "chkv cluster did not become ready"; cat "$TMP/chkv.log"; exit 1; }

echo "redis: $(redis-server --version | awk '{print $3}')  chkv: $("$TMP/chkv" version)  cpus: $(nproc)  rounds: $ROUNDS  requests: $N (-P 16: $((N * 8)))  load: $(cut -d' ' -f1 /proc/loadavg)"
# redis-benchmark --cluster runs a thread per master, and its threads stop
# on a 250 ms timer tick, so a run's time is known to 250 ms only: at -P 16
# N requests take about a second, so -P 16 runs 8 times N.
P16_SCALE=8 bench_rounds $ROUNDS $N $RBASE $((CBASE + 1)) --cluster
echo
print_ratios "Redis Cluster"
