#!/usr/bin/env bash
# Fills chkv and redis-server, each capped by --maxmemory with an evicting policy, with far more data than the cap and reports RSS against the cap.
#
# usage: bench/maxmemory.sh [MAXMEMORY (64mb)] [POLICY (allkeys-lru)] [REQUESTS (1000000)] [VALUE_BYTES (1000)]
#                           [CLIENTS (50)] [PIPELINE (16)] [READER_PIPELINE (16)]
# Writes REQUESTS SETs of random keys (of 10,000,000) with VALUE_BYTES values from CLIENTS clients
# at -P PIPELINE (1 GB by default), then prints each server's used_memory, evicted keys, RSS after the fill and its peak
# (VmHWM), RSS/cap, and the fill's wall time and the server's CPU time during it.
# CHKV_FLAGS adds flags to `chkv server` (e.g. --maxmemory-gc-room 0). Meanwhile a second client keeps reading a hot set of 100 keys written
# before the fill (GETs of random ones at -P READER_PIPELINE); hot_left is how many of them survive.
# A server serves each connection's pipeline in turn, so the reader gets READER_PIPELINE GETs per
# up to CLIENTS*PIPELINE SETs: at READER_PIPELINE 1 each hot key was read about once per 30,000 to
# 50,000 writes (2026-12-04), not much more often than the 64 MB (59,000 keys of 1,000 bytes) turn
# over, and plain LRU, exact or not, loses nearly all of them; at 16, once per 2,000 to 5,000.
# Redis's LRU clock counts seconds: a flood that turns the cache over within a second leaves it
# little to tell the keys apart by.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
require_tools redis-server redis-benchmark redis-cli go

cap=${1:-64mb} policy=${2:-allkeys-lru} n=${3:-1000000} size=${4:-1000} clients=${5:-50} pipeline=${6:-16} rpipeline=${7:-16}
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"; }
trap cleanup EXIT

go build -o "$dir/chkv" ./cmd/chkv
base=$(free_ports 2)
rport=$base cport=$((base + 1))
redis-server --port $rport --save '' --appendonly no --maxmemory $cap --maxmemory-policy $policy \
  --dir "$dir" >"$dir/redis.log" 2>&1 &
pids+=($!); rpid=$!
"$dir/chkv" server --addr 127.0.0.1:$cport --maxmemory $cap --maxmemory-policy $policy ${CHKV_FLAGS:-} >"$dir/chkv.log" 2>&1 &
pids+=($!); cpid=$!
for port in $rport $cport; do
  for _ in $(seq 100); do redis-cli -p $port ping >/dev/null 2>&1 && break; sleep 0.05; done
done

capbytes=$(redis-cli -p $rport config get maxmemory | tail -1)
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-6s %12s %12s %10s %10s %10s %8s %9s %8s %8s\n' server used_memory evicted keys rss_MiB peak_MiB rss/cap hot_left fill_s cpu_s
for srv in redis chkv; do
  port=$rport pid=$rpid
  [ $srv = chkv ] && port=$cport pid=$cpid
  hot=()
  for i in $(seq 0 99); do hot+=("$(printf 'hot:%012d' $i)"); done
  for k in "${hot[@]}"; do echo "SET $k v"; done | redis-cli -p $port >/dev/null
  redis-benchmark -p $port -n 1000000000 -r 100 -c 1 -P $rpipeline -q GET hot:__rand_int__ >/dev/null 2>&1 &
  toucher=$!
  sleep 1 # the toucher reads every hot key before the flood begins
  t0=$(date +%s.%N) c0=$(awk '{print $14 + $15}' /proc/$pid/stat)
  redis-benchmark -p $port -t set -n $n -r 10000000 -d $size -c $clients -P $pipeline -q >/dev/null 2>&1
  fill=$(echo "$(date +%s.%N) - $t0" | bc -l) cpu=$(echo "($(awk '{print $14 + $15}' /proc/$pid/stat) - $c0) / $(getconf CLK_TCK)" | bc -l)
  kill $toucher; wait $toucher 2>/dev/null || true
  hotleft=$(redis-cli -p $port exists "${hot[@]}")
  used=$(redis-cli -p $port info memory | tr -d '\r' | awk -F: '$1=="used_memory"{print $2}')
  evicted=$(redis-cli -p $port info stats | tr -d '\r' | awk -F: '$1=="evicted_keys"{print $2}')
  keys=$(redis-cli -p $port dbsize)
  rss=$(awk '/VmRSS/{print $2}' /proc/$pid/status)
  hwm=$(awk '/VmHWM/{print $2}' /proc/$pid/status)
  printf '%-6s %12s %12s %10s %10.1f %10.1f %8.2f %9s %8.1f %8.1f\n' $srv "$used" "$evicted" "$keys" \
    "$(echo "$rss/1024" | bc -l)" "$(echo "$hwm/1024" | bc -l)" "$(echo "$rss*1024/$capbytes" | bc -l)" "$hotleft" "$fill" "$cpu"
done
