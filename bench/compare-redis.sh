#!/usr/bin/env bash
# Compares chkv's standalone DataNode with redis-server in the same run:
# redis-benchmark throughput (interleaved rounds, medians, ratios) and RSS after
# loading 1,000,000 keys with 100-byte values.
#
# Usage: bench/compare-redis.sh [rounds] [requests]
# CHKV_FLAGS adds flags to `chkv server` (e.g. CHKV_FLAGS="--procs 1").
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
ROUNDS=${1:-5}
N=${2:-200000}
KEYS=${KEYS:-1000000}
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT

require_tools redis-server redis-benchmark redis-cli python3

go build -o "$TMP/chkv" ./cmd/chkv

echo "redis: $(redis-server --version | awk '{print $3}')  chkv: $("$TMP/chkv" version) ${CHKV_FLAGS:-}  cpus: $(nproc)  rounds: $ROUNDS  requests: $N  load: $(cut -d' ' -f1 /proc/loadavg)"
start_servers
bench_rounds $ROUNDS $N $RPORT $CPORT
echo
print_ratios redis

echo
echo "== memory: $KEYS keys, 100-byte values"
for srv in redis chkv; do
  port=$RPORT; [ $srv = chkv ] && port=$CPORT
  redis-cli -p $port flushall >/dev/null
  python3 - "$KEYS" <<'PY' | redis-cli -p $port --pipe >/dev/null
import sys
n = int(sys.argv[1]); val = b"v" * 100; out = sys.stdout.buffer
for i in range(n):
    k = b"key:%010d" % i
    out.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$100\r\n%s\r\n" % (len(k), k, val))
PY
done
sleep 2
rk=$(rss_kb $RPID); ck=$(rss_kb $CPID)
rd=$(redis-cli -p $RPORT dbsize); cd_=$(redis-cli -p $CPORT dbsize)
printf "| %-6s | %9s | %10s |\n" server keys "RSS MiB"
printf "|--------|-----------|------------|\n"
printf "| %-6s | %9s | %10.1f |\n" redis $rd $(echo "$rk/1024" | bc -l) chkv $cd_ $(echo "$ck/1024" | bc -l)
printf "chkv/redis RSS: %.2fx\n" $(echo "$ck / $rk" | bc -l)
stop_servers
