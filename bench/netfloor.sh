#!/usr/bin/env bash
# How far is Go's own network path from Redis at -P 1? Runs redis-benchmark
# GET -c 50 -P 1 against redis-server, chkv (all cores and --procs 1) and
# bench/netfloor (a Go server that answers every request with a constant and
# does nothing else; goroutine per connection as chkv, on all cores and on
# one, and a raw epoll loop as Redis), interleaved, and prints per server the
# median req/s, its ratio to redis-server, and the server's CPU time per
# request (user+system, from /proc).
#
# Usage: bench/netfloor.sh [rounds=5] [requests=200000]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
ROUNDS=${1:-5}
N=${2:-200000}
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT
require_tools redis-server redis-benchmark redis-cli python3
cpu_ticks() { awk '{print $14 + $15}' /proc/$1/stat; }
TICK=$(getconf CLK_TCK)

go build -o "$TMP/chkv" ./cmd/chkv
go build -o "$TMP/netfloor" ./bench/netfloor

declare -A PORT PID
start() { # name command...
  local name=$1; shift
  local port; port=$(free_port)
  "$@" --addr 127.0.0.1:$port >"$TMP/$name.log" 2>&1 &
  PID[$name]=$!; PORT[$name]=$port
}
rport=$(free_port)
redis-server --port $rport --bind 127.0.0.1 --save "" --appendonly no --daemonize no >"$TMP/redis.log" 2>&1 &
PID[redis]=$!; PORT[redis]=$rport
start chkv "$TMP/chkv" server
start chkv-procs1 "$TMP/chkv" server --procs 1
start floor "$TMP/netfloor" -mode goroutine
start floor-procs1 env GOMAXPROCS=1 "$TMP/netfloor" -mode goroutine
start floor-epoll "$TMP/netfloor" -mode epoll
NAMES="redis chkv chkv-procs1 floor floor-procs1 floor-epoll"
for name in $NAMES; do
  for _ in $(seq 100); do redis-cli -p ${PORT[$name]} ping >/dev/null 2>&1 && break; sleep 0.05; done
done

declare -A RPS TICKS
echo "GET -c 50 -P 1 -r 100000, $N requests x $ROUNDS rounds, cpus: $(nproc), load: $(cut -d' ' -f1 /proc/loadavg)"
for round in $(seq $ROUNDS); do
  for name in $NAMES; do
    t0=$(cpu_ticks ${PID[$name]})
    rps=$(redis-benchmark -h 127.0.0.1 -p ${PORT[$name]} -t get -c 50 -P 1 -r 100000 -n $N -q --csv 2>/dev/null | grep '^"GET"' | cut -d, -f2 | tr -d '"')
    t1=$(cpu_ticks ${PID[$name]})
    RPS[$name]+="$rps "
    TICKS[$name]=$(( ${TICKS[$name]:-0} + t1 - t0 ))
  done
done
r=$(echo "${RPS[redis]}" | median)
printf "| %-13s | %9s | %9s | %15s |\n" server "req/s" "/redis" "CPU us/request"
printf "|---------------|-----------|-----------|-----------------|\n"
for name in $NAMES; do
  m=$(echo "${RPS[$name]}" | median)
  us=$(echo "${TICKS[$name]} / $TICK * 1000000 / ($N * $ROUNDS)" | bc -l)
  printf "| %-13s | %9.0f | %8.2fx | %15.1f |\n" $name $m $(echo "$m / $r" | bc -l) $us
done
