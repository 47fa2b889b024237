#!/usr/bin/env bash
# Compares chkv's standalone DataNode with redis-server in the same run on the
# collection types: redis-benchmark custom commands (HSET HGET SADD SISMEMBER
# ZADD ZRANGE, interleaved rounds, medians, ratios; and each server's CPU
# time per request, which a loaded machine disturbs less), then RSS growth for
# 1,000,000 hash fields in one hash and 1,000,000 members in one sorted set.
#
# Usage: bench/compare-types.sh [rounds] [requests]
# CHKV_FLAGS adds flags to `chkv server`; FIELDS sets the memory test's size.
# PIN=1 (the default on two or more CPUs with taskset) runs both servers on
# CPU 0 and redis-benchmark on the others, so the client and the server under
# test do not take each other's core and each server has the same one (chkv
# keeps the GOMAXPROCS of the machine, as unpinned); PIN=0 leaves placement
# to the scheduler. Each round runs the two servers
# back to back, in alternating order; the table gives, per test, the median of
# the rounds' paired ratios and their range beside the medians of req/s and of
# CPU per request.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
ROUNDS=${1:-3}
N=${2:-200000}
FIELDS=${FIELDS:-1000000}
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT

require_tools redis-server redis-benchmark redis-cli python3

go build -o "$TMP/chkv" ./cmd/chkv

# The commands, in the order they run in a round: reads follow the writes
# that fill their keys.
TESTS=(HSET HGET SADD SISMEMBER ZADD ZRANGE)
declare -A CMD=(
  [HSET]="HSET h f:__rand_int__ v"
  [HGET]="HGET h f:__rand_int__"
  [SADD]="SADD s m:__rand_int__"
  [SISMEMBER]="SISMEMBER s m:__rand_int__"
  [ZADD]="ZADD z __rand_int__ m:__rand_int__"
  [ZRANGE]="ZRANGE z 0 9 WITHSCORES"
)

declare -A U # U["server|TEST|pipeline"]: server CPU microseconds per request, one figure per round
declare -A Q # Q["TEST|pipeline"]: chkv/redis req/s of each round (the two runs back to back)
declare -A V # V["TEST|pipeline"]: redis/chkv CPU per request of each round
# cpu_ticks PID prints the user and system CPU time of PID in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' /proc/$1/stat; }

PIN=${PIN:-auto}
if [ "$PIN" = auto ]; then PIN=0; [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null && PIN=1; fi
CLIENT=()
if [ "$PIN" = 1 ]; then
  SERVER_CPUS=0
  export GOMAXPROCS=${GOMAXPROCS:-$(nproc)}
  CLIENT=(taskset -c 1-$(($(nproc) - 1)))
fi

echo "redis: $(redis-server --version | awk '{print $3}')  chkv: $("$TMP/chkv" version) ${CHKV_FLAGS:-}  cpus: $(nproc)  pinned: $PIN  rounds: $ROUNDS  requests: $N  load: $(cut -d' ' -f1 /proc/loadavg)"
start_servers
for round in $(seq $ROUNDS); do
  order="redis chkv"; [ $((round % 2)) = 0 ] && order="chkv redis"
  for P in 1 16; do
    for test in "${TESTS[@]}"; do
      declare -A got=()
      for srv in $order; do
        port=$RPORT; [ $srv = chkv ] && port=$CPORT
        pid=$RPID; [ $srv = chkv ] && pid=$CPID
        t0=$(cpu_ticks $pid)
        rps=$("${CLIENT[@]}" redis-benchmark -h 127.0.0.1 -p $port -c 50 -P $P -r 100000 -n $N -q --csv ${CMD[$test]} 2>/dev/null |
          tail -1 | awk -F, '{gsub(/"/, "", $2); print $2}')
        us=$(echo "($(cpu_ticks $pid) - $t0) * 1000000 / $(getconf CLK_TCK) / $N" | bc -l)
        R["$srv|$test|$P"]+="$rps "
        U["$srv|$test|$P"]+="$us "
        got[$srv]=$rps got[$srv.us]=$us
      done
      Q["$test|$P"]+="$(echo "${got[chkv]} / ${got[redis]}" | bc -l) "
      V["$test|$P"]+="$(echo "${got[redis.us]} / ${got[chkv.us]}" | bc -l) "
    done
  done
done
# range prints the lowest and highest of the numbers on stdin as LOW-HIGH.
range() { tr ' ' '\n' | grep -v '^$' | sort -g | awk 'NR==1{l=$1} {h=$1} END {printf "%.2f-%.2f", l, h}'; }
printf "| %-9s | %-8s | %11s | %11s | %10s | %11s | %12s | %11s | %10s | %11s |\n" test pipeline "redis req/s" "chkv req/s" \
  "chkv/redis" "(rounds)" "redis us/req" "chkv us/req" "redis/chkv" "(rounds)"
printf "|-----------|----------|-------------|-------------|------------|-------------|--------------|-------------|------------|-------------|\n"
for test in "${TESTS[@]}"; do
  for P in 1 16; do
    r=$(echo "${R[redis|$test|$P]}" | median); c=$(echo "${R[chkv|$test|$P]}" | median)
    ru=$(echo "${U[redis|$test|$P]}" | median); cu=$(echo "${U[chkv|$test|$P]}" | median)
    printf "| %-9s | -P %-5s | %11.0f | %11.0f | %9.2fx | %11s | %12.2f | %11.2f | %9.2fx | %11s |\n" $test $P $r $c \
      $(echo "${Q[$test|$P]}" | median) $(echo "${Q[$test|$P]}" | range) $ru $cu \
      $(echo "${V[$test|$P]}" | median) $(echo "${V[$test|$P]}" | range)
  done
done
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
stop_servers

# load TYPE PORT fills one key of TYPE with $FIELDS elements through redis-cli --pipe.
load() {
  python3 - "$FIELDS" "$1" <<'PY' | redis-cli -p $2 --pipe >/dev/null
import sys
n, typ = int(sys.argv[1]), sys.argv[2]; out = sys.stdout.buffer
def cmd(*a):
    out.write(b"*%d\r\n" % len(a) + b"".join(b"$%d\r\n%s\r\n" % (len(x), x) for x in a))
for i in range(0, n, 100):
    args = []
    for j in range(i, min(n, i + 100)):
        m = b"element:%012d" % j
        args += [m, b"%d" % (j % 1000)] if typ == "hash" else [b"%d" % (j % 1000), m]
    cmd(b"HSET" if typ == "hash" else b"ZADD", b"k", *args)
PY
}

echo
echo "== memory: one key of $FIELDS elements (20-byte members), RSS growth over the empty server"
printf "| %-6s | %14s | %14s | %10s |\n" type "redis MiB" "chkv MiB" "chkv/redis"
printf "|--------|----------------|----------------|------------|\n"
for typ in hash zset; do
  start_servers
  sleep 1
  r0=$(rss_kb $RPID); c0=$(rss_kb $CPID)
  load $typ $RPORT; load $typ $CPORT
  sleep 2
  r1=$(rss_kb $RPID); c1=$(rss_kb $CPID)
  printf "| %-6s | %14.1f | %14.1f | %9.2fx |\n" $typ $(echo "($r1-$r0)/1024" | bc -l) $(echo "($c1-$c0)/1024" | bc -l) \
    $(echo "($c1-$c0) / ($r1-$r0)" | bc -l)
  stop_servers
done
