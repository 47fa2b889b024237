#!/usr/bin/env bash
# Real processes: 3 NameNodes on Raft and 3 DataNodes (1 replica) on
# loopback, keys loaded; kill -9 the NameNode leader and measure the time
# until another NameNode leads (default Raft settings), while a writer
# keeps writing through redis-cli -c; then join a 4th DataNode and check
# that it gets its share, that every key reads back and that the table
# version each DataNode reported (CLUSTER INFO, sampled every 50 ms) never
# went down.
#
#   scripts/namenode-failover.sh [KEYS]
#
# Environment: PORT (first port, default 17100: NameNodes on PORT+1..3,
# DataNodes on PORT+11..14), OUT (logs, default a temporary directory).
set -euo pipefail
cd "$(dirname "$0")/.."
keys=${1:-2000}
port=${PORT:-17100}
out=${OUT:-$(mktemp -d /tmp/chkv-nnfail.XXXX)}
mkdir -p "$out"
bin="$out/chkv"
go build -o "$bin" ./cmd/chkv

pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

peers="" list=""
for i in 1 2 3; do
  peers+="${peers:+,}nn$i=127.0.0.1:$((port + i))"
  list+="${list:+,}127.0.0.1:$((port + i))"
done
declare -A nnpid
for i in 1 2 3; do
  "$bin" namenode --id "nn$i" --addr "127.0.0.1:$((port + i))" --data-dir "$out/nn$i" --peers "$peers" \
    --replicas 1 --expect 3 >"$out/nn$i.out" 2>"$out/nn$i.log" &
  nnpid[nn$i]=$!
  pids+=($!)
done
start_dn() { # k
  "$bin" datanode --id "dn$1" --addr "127.0.0.1:$((port + 10 + $1))" --namenode "$list" \
    >"$out/dn$1.out" 2>"$out/dn$1.log" &
  pids+=($!)
}
for k in 1 2 3; do start_dn "$k"; done

status() { "$bin" status --namenode "$list" --json --timeout 10s 2>/dev/null; }
wait_stable() { # members
  for _ in $(seq 600); do
    if status | python3 -c '
import json,sys
st=json.load(sys.stdin)
live=[m for m in st["members"] if m["state"]=="up"]
sys.exit(0 if st["stable"] and len(live)=='"$1"' and not st["migration"]["active"] else 1)' 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "cluster not stable with $1 members"; exit 1
}
wait_stable 3
echo "3 NameNodes, 3 DataNodes up; loading $keys keys"
seq "$keys" | sed 's/.*/SET key:& value:&/' | redis-cli -c -p $((port + 11)) >/dev/null

# Table versions each DataNode reports, every 50 ms.
(
  while true; do
    for k in 1 2 3 4; do
      v=$(redis-cli -p $((port + 10 + k)) CLUSTER INFO 2>/dev/null | tr -d '\r' | sed -n 's/^cluster_current_epoch://p' || true)
      if [ -n "$v" ]; then echo "dn$k $v"; fi
    done
    sleep 0.05
  done
) >"$out/versions.txt" &
pids+=($!)
# A writer through the whole run: INCR of 100 counters, errors counted.
(
  i=0
  while true; do
    i=$((i + 1))
    if ! r=$(redis-cli -c -p $((port + 12)) INCR "ctr:$((i % 100))" 2>&1) || [[ $r != [0-9]* ]]; then
      echo "error $(date +%s.%N) $r"
    else
      echo "ok ctr:$((i % 100))"
    fi
  done
) >"$out/writer.txt" &
writer=$!
pids+=($writer)

leader=$(status | python3 -c 'import json,sys; print([n["id"] for n in json.load(sys.stdin)["namenodes"] if n["role"]=="leader"][0])')
echo "leader $leader: kill -9"
t0=$(date +%s.%N)
kill -9 "${nnpid[$leader]}"
new=""
while [ -z "$new" ] || [ "$new" = "$leader" ]; do
  new=$(status | python3 -c 'import json,sys; print(([n["id"] for n in json.load(sys.stdin)["namenodes"] if n["role"]=="leader"]+[""])[0])' 2>/dev/null || true)
done
t1=$(date +%s.%N)
# The new leader's own log says when it took over.
took=$(python3 - "$t0" "$out/$new.log" <<'EOF'
import sys, datetime
t0 = float(sys.argv[1])
for line in open(sys.argv[2]):
    if 'msg="namenode: leader"' in line:
        ts = line.split()[0].split("=", 1)[1]
        t = datetime.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
        if t > t0:
            print(f"{t - t0:.3f}")
            break
EOF
)
printf 'new leader %s: chkv status saw it %.3f s after the kill; its log says it led %s s after\n' "$new" "$(echo "$t1 - $t0" | bc)" "$took"

start_dn 4
wait_stable 4
kill "$writer" 2>/dev/null || true
prim=$(status | python3 -c 'import json,sys; print([m["primaries"] for m in json.load(sys.stdin)["members"] if m["id"]=="dn4"][0])')
echo "dn4 joined under the new leader: $prim primaries"
missing=0
for i in $(seq 1 $((keys / 100 > 0 ? keys / 100 : 1)) "$keys"); do
  [ "$(redis-cli -c -p $((port + 11)) GET "key:$i")" = "value:$i" ] || missing=$((missing + 1))
done
echo "keys checked (every 100th): $missing missing"
echo "writer: $(grep -c '^ok' "$out/writer.txt") INCR acknowledged, $(grep -c '^error' "$out/writer.txt") errors"
down=$(awk '{ if ($2 < last[$1]) bad++; last[$1] = $2 } END { print bad + 0 }' "$out/versions.txt")
echo "DataNode table versions sampled: $(wc -l <"$out/versions.txt"), went down: $down"
[ "$missing" = 0 ] && [ "$down" = 0 ] && [ "$prim" -gt 0 ] && echo PASS || { echo "FAIL (logs in $out)"; exit 1; }
