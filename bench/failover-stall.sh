#!/usr/bin/env bash
# Measures the write stall when a DataNode dies: 1 NameNode + 4 DataNodes
# (1 replica) as processes on loopback, bench/failtool writing continuously
# from 8 goroutines (chkv Client, 2 s timeout per SET), kill -9 of one
# DataNode. The stall is the time from the kill to the end of the last failed
# or slow (> 200 ms) write. Runs with the default heartbeat and with
# --heartbeat 100ms on every process.
#
# Usage: bench/failover-stall.sh [rounds=2]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
ROUNDS=${1:-2}
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT
require_tools python3 jq
go build -o "$TMP/chkv" ./cmd/chkv
go build -o "$TMP/failtool" ./bench/failtool

status() { "$TMP/chkv" status --namenode $NN --json --timeout 2s 2>/dev/null; }
wait_stable() {
  local end=$(( $(date +%s) + $1 )) s
  while [ $(date +%s) -lt $end ]; do
    s=$(status) && [ "$(jq -r '.stable and (.migration.active|not)' <<<"$s")" = true ] && return 0
    sleep 0.2
  done
  echo "not stable after $1 s"; return 1
}

echo "cpus: $(nproc)  load: $(cut -d' ' -f1 /proc/loadavg)"
for hb in "" "--heartbeat 100ms"; do
  for round in $(seq $ROUNDS); do
    NN=127.0.0.1:$(free_port)
    "$TMP/chkv" namenode --addr $NN --replicas 1 --expect 4 $hb >"$TMP/nn.log" 2>&1 &
    NNPID=$!
    for i in 1 2 3 4; do
      "$TMP/chkv" datanode --id dn$i --addr 127.0.0.1:$(free_port) --namenode $NN $hb >"$TMP/dn$i.log" 2>&1 &
      DN[$i]=$!
    done
    wait_stable 60
    "$TMP/failtool" -namenode $NN write >"$TMP/w.out" 2>&1 &
    WPID=$!
    sleep 3
    kill -9 ${DN[4]}; tk=$(date +%s%3N)
    sleep 2; wait_stable 60; sleep 3
    kill $WPID; wait $WPID || true
    line=$(grep '^writes' "$TMP/w.out")
    last=$(awk '{print $NF}' <<<"$line")
    stall=$(( last > tk ? last - tk : 0 ))
    printf "heartbeat %-18s round %d: stall %5d ms after the kill  (%s)\n" "${hb:-default(1s)}" $round $stall "$line"
    kill $NNPID ${DN[1]} ${DN[2]} ${DN[3]} 2>/dev/null || true; wait 2>/dev/null || true
  done
done 2>&1 | grep -v Killed
