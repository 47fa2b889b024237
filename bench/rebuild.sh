#!/usr/bin/env bash
# Measures re-replication after a DataNode dies, on the real binary: 1
# NameNode + 4 DataNodes (1 replica) as processes on loopback hold KEYS keys
# of 100 bytes; one DataNode gets kill -9 and `chkv status --json` is polled
# every 0.5 s until the cluster is stable again. Prints the keys rebuilt
# (migration.copy_keys), seconds from the kill to the node declared down and
# to stable, and keys/s over both spans.
#
# Usage: bench/rebuild.sh [rounds=2] [keys=1000000]   (NN_FLAGS, DN_FLAGS add flags)
# PROFILE=DIR: the DataNodes write CPU profiles to DIR/dnI.prof, cut at the
# kill (DIR/dnI.prof.1 is the rebuild), and their logs (with GODEBUG=gctrace=1
# in the environment, the collections) are copied to DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
ROUNDS=${1:-2}
KEYS=${2:-1000000}
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT
if [ -n "${PROFILE:-}" ]; then mkdir -p "$PROFILE"; fi
require_tools python3 jq
go build -o "$TMP/chkv" ./cmd/chkv
go build -o "$TMP/failtool" ./bench/failtool
now() { date +%s.%N; }
# dn_cpu prints the CPU seconds DataNodes 1-3 (the survivors) have used.
dn_cpu() {
  local t=0 i
  for i in 1 2 3; do t=$(( t + $(awk '{print $14 + $15}' /proc/${DN[$i]}/stat) )); done
  echo "$t / $(getconf CLK_TCK)" | bc -l
}

# start_cluster starts the NameNode (NN) and 4 DataNodes (pids DN[1..4]).
start_cluster() {
  NN=127.0.0.1:$(free_port)
  "$TMP/chkv" namenode --addr $NN --replicas 1 --expect 4 ${NN_FLAGS:-} >"$TMP/nn.log" 2>&1 &
  NNPID=$!
  for i in 1 2 3 4; do
    "$TMP/chkv" datanode --id dn$i --addr 127.0.0.1:$(free_port) --namenode $NN ${DN_FLAGS:-} \
      ${PROFILE:+--cpuprofile "$PROFILE/dn$i.prof"} >"$TMP/dn$i.log" 2>&1 &
    DN[$i]=$!
  done
  wait_stable 60
}

status() { "$TMP/chkv" status --namenode $NN --json --timeout 2s 2>/dev/null; }

# wait_stable SECONDS waits until the cluster is stable with no data moving.
wait_stable() {
  local end=$(( $(date +%s) + $1 )) s
  while [ $(date +%s) -lt $end ]; do
    s=$(status) && [ "$(jq -r '.stable and (.migration.active|not)' <<<"$s")" = true ] && return 0
    sleep 0.5
  done
  echo "not stable after $1 s"; return 1
}

stop_cluster() {
  kill $NNPID ${DN[@]} 2>/dev/null || true; wait 2>/dev/null || true
  if [ -n "${PROFILE:-}" ]; then cp "$TMP"/*.log "$PROFILE/"; fi
} 2>/dev/null

echo "cpus: $(nproc)  load: $(cut -d' ' -f1 /proc/loadavg)  keys: $KEYS  NN_FLAGS: ${NN_FLAGS:-}  DN_FLAGS: ${DN_FLAGS:-}"
for round in $(seq $ROUNDS); do
  start_cluster
  t0=$(now); "$TMP/failtool" -namenode $NN -keys $KEYS load; t1=$(now)
  printf "round %d: loaded %d keys in %.1f s\n" $round $KEYS $(echo "$t1 - $t0" | bc -l)
  wait_stable 60
  if [ -n "${PROFILE:-}" ]; then kill -USR1 ${DN[1]} ${DN[2]} ${DN[3]}; fi
  cpu0=$(dn_cpu); kill -9 ${DN[4]}; tk=$(now); tdown=""
  while :; do
    sleep ${POLL:-0.5}
    s=$(status) || continue
    t=$(now)
    [ -z "$tdown" ] && [ "$(jq -r '[.members[] | select(.id=="dn4" and .state!="up")] | length' <<<"$s")" != 0 ] && tdown=$t
    echo "$s" | jq -c '{stable, copies_total: .migration.copies_total, copy_keys: .migration.copy_keys, copy_bytes: .migration.copy_bytes, copy_keys_per_sec: .migration.copy_keys_per_sec, copy_eta_sec: .migration.copy_eta_sec}' >>"$TMP/poll.log"
    if [ -n "$tdown" ] && [ "$(jq -r '.stable and (.migration.active|not)' <<<"$s")" = true ]; then break; fi
    [ $(echo "$t - $tk > 600" | bc) = 1 ] && { echo "not stable 600 s after the kill"; tail -3 "$TMP/poll.log"; break; }
  done
  cpu=$(echo "$(dn_cpu) - $cpu0" | bc -l)
  keys=$(jq -r '.migration.copy_keys' <<<"$s")
  total=$(echo "$t - $tk" | bc -l); down=$(echo "$tdown - $tk" | bc -l)
  el=$(jq -r '.migration.elapsed_sec' <<<"$s")
  printf "round %d: rebuilt %d keys (%d copies); down seen after %.1f s, stable after %.1f s (poll %s s); %.0f keys/s kill->stable; NameNode: movement %.2f s, %.0f keys/s; DataNodes' CPU %.2f s; load %s\n" \
    $round $keys $(jq -r '.migration.copies_total' <<<"$s") $down $total ${POLL:-0.5} $(echo "$keys / $total" | bc -l) $el $(echo "$keys / ($el + 0.000001)" | bc -l) $cpu "$(cut -d' ' -f1-3 /proc/loadavg)"
  stop_cluster
done
