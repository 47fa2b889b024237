#!/usr/bin/env bash
# Compares chkv server --data-dir with redis-server --appendonly yes in the same run, at the same
# appendfsync policy: SET throughput at -P 1 and -P 16 (interleaved rounds, medians, ratios), then
# the restart with 1,000,000 keys of 100 bytes: time until the server answers, and RSS after load.
#
# Usage: bench/compare-persist.sh [rounds] [requests]
# FSYNCS lists the policies (default "everysec always"); KEYS the keys loaded (default 1000000);
# DIR the directory the files go to (default a temporary one: put it on the disk you care about);
# REWRITE=0 turns both servers' automatic compaction off, so each loads its plain command log
# (default 100: Redis rewrites into an RDB preamble, chkv into a snapshot, past 64 MiB).
# STOP=kill stops both servers after the load with kill -9 (once neither is compacting) instead of
# SIGTERM, so each restart recovers a crashed server's files (chkv compacts at a clean stop).
# ROUNDS 0 skips the SET benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
ROUNDS=${1:-3}
N=${2:-100000}
KEYS=${KEYS:-1000000}
FSYNCS=${FSYNCS:-everysec always}
REWRITE=${REWRITE:-100}
STOP=${STOP:-term}
CREWRITE=$REWRITE; [ "$REWRITE" = 0 ] && CREWRITE=-1
TMP=$(mktemp -d ${DIR:+-p "$DIR"})
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT

require_tools redis-server redis-benchmark redis-cli python3
rss_kb() { awk '/VmRSS/ {print $2}' /proc/$1/status; }
cpu_ms() { awk '{print ($14+$15)*1000/'$(getconf CLK_TCK)'}' /proc/$1/stat; }
now_ms() { date +%s%3N; }
wait_ping() { for _ in $(seq 2000); do [ "$(redis-cli -p $1 ping 2>/dev/null)" = PONG ] && return; sleep 0.01; done; echo "port $1 did not answer"; exit 1; }

go build -o "$TMP/chkv" ./cmd/chkv
# start_redis FSYNC and start_chkv FSYNC start a server on a fresh port over the data in
# $TMP/redis-FSYNC or $TMP/chkv-FSYNC (kept between starts).
start_redis() {
  RPORT=$(free_port); mkdir -p "$TMP/redis-$1"
  redis-server --port $RPORT --bind 127.0.0.1 --dir "$TMP/redis-$1" --save "" --appendonly yes \
    --appendfsync $1 --auto-aof-rewrite-percentage $REWRITE --daemonize no >>"$TMP/redis.log" 2>&1 &
  RPID=$!
}
start_chkv() {
  CPORT=$(free_port)
  "$TMP/chkv" server --addr 127.0.0.1:$CPORT --data-dir "$TMP/chkv-$1" --appendfsync $1 --auto-aof-rewrite-percentage $CREWRITE ${CHKV_FLAGS:-} >>"$TMP/chkv.log" 2>&1 &
  CPID=$!
}
stop() { kill $1; wait $1 2>/dev/null || true; }
# crash PORT PID: kill -9 once the server on PORT is not compacting.
crash() {
  for _ in $(seq 6000); do redis-cli -p $1 info persistence | grep -q '^aof_rewrite_in_progress:0' && break; sleep 0.1; done
  kill -9 $2; wait $2 2>/dev/null || true
}

echo "redis: $(redis-server --version | awk '{print $3}')  chkv: $("$TMP/chkv" version) ${CHKV_FLAGS:-}  cpus: $(nproc)  rounds: $ROUNDS  requests: $N  keys: $KEYS  rewrite: $REWRITE  fs: $(df -T "$TMP" | awk 'NR==2 {print $2}')  load: $(cut -d' ' -f1 /proc/loadavg)"
for F in $FSYNCS; do
  unset R; declare -A R
  start_redis $F; start_chkv $F; wait_ping $RPORT; wait_ping $CPORT
  for round in $(seq $ROUNDS); do
    for P in 1 16; do
      for srv in redis chkv; do
        port=$RPORT; [ $srv = chkv ] && port=$CPORT
        rps=$(redis-benchmark -h 127.0.0.1 -p $port -t set -c 50 -P $P -r 100000 -n $N -q --csv 2>/dev/null | grep '^"SET"' | cut -d, -f2 | tr -d '"')
        R["$srv|$P"]+="$rps "
      done
    done
  done
  if [ "$ROUNDS" -gt 0 ]; then
    echo
    echo "== appendfsync $F: SET, 50 clients"
    printf "| %-9s | %12s | %12s | %10s |\n" pipeline "redis req/s" "chkv req/s" chkv/redis
    printf "|-----------|--------------|--------------|------------|\n"
    for P in 1 16; do
      r=$(echo "${R[redis|$P]}" | median); c=$(echo "${R[chkv|$P]}" | median)
      printf "| -P %-6s | %12.0f | %12.0f | %9.2fx |\n" $P $r $c $(echo "$c / $r" | bc -l)
    done
  fi
  # Load: both servers get KEYS fresh keys, then restart over their files.
  for port in $RPORT $CPORT; do
    redis-cli -p $port flushall >/dev/null
    python3 - "$KEYS" <<'PY' | redis-cli -p $port --pipe >/dev/null
import sys
n = int(sys.argv[1]); val = b"v" * 100; out = sys.stdout.buffer
for i in range(n):
    k = b"key:%010d" % i
    out.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$100\r\n%s\r\n" % (len(k), k, val))
PY
  done
  if [ "$STOP" = kill ]; then crash $RPORT $RPID; crash $CPORT $CPID; else stop $RPID; stop $CPID; fi
  echo
  echo "== appendfsync $F: restart after $([ "$STOP" = kill ] && echo "kill -9" || echo SIGTERM) with $KEYS keys of 100 bytes (files: redis $(du -sm "$TMP/redis-$F" | cut -f1) MiB, chkv $(du -sm "$TMP/chkv-$F" | cut -f1) MiB)"
  printf "| %-6s | %9s | %10s | %12s | %8s |\n" server keys "load ms" "load CPU ms" "RSS MiB"
  printf "|--------|-----------|------------|--------------|----------|\n"
  for srv in redis chkv; do
    t0=$(now_ms)
    if [ $srv = redis ]; then start_redis $F; port=$RPORT; pid=$RPID; else start_chkv $F; port=$CPORT; pid=$CPID; fi
    wait_ping $port
    ms=$(( $(now_ms) - t0 )); cpu=$(cpu_ms $pid)
    sleep 1
    printf "| %-6s | %9s | %10s | %12s | %8.1f |\n" $srv $(redis-cli -p $port dbsize) $ms $cpu $(echo "$(rss_kb $pid)/1024" | bc -l)
    eval "${srv}_ms=$ms; ${srv}_rss=$(rss_kb $pid)"
    stop $pid
  done
  printf "chkv/redis load time: %.2fx  RSS: %.2fx\n" $(echo "$chkv_ms / $redis_ms" | bc -l) $(echo "$chkv_rss / $redis_rss" | bc -l)
  rm -rf "$TMP/redis-$F" "$TMP/chkv-$F"
done
