# Shared by the comparison scripts: interleaved redis-benchmark rounds, medians and the ratio table.

# require_tools TOOL... exits with a hint when a tool is missing.
require_tools() {
  local tool
  for tool in "$@"; do
    command -v $tool >/dev/null || { echo "missing $tool (apt-get install redis-server redis-tools)"; exit 1; }
  done
}

# free_port prints a free TCP port on loopback.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# free_ports N prints a base port B with B..B+N-1 and the Redis Cluster bus
# ports B+10000.. free on loopback, all below the kernel's ephemeral range
# (where the benchmark's own client connections would take them).
free_ports() {
  python3 - "$1" <<'PY'
import socket, sys, random
n = int(sys.argv[1])
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
while True:
    base = random.randint(10000, low - 10000 - n)
    socks = []
    try:
        for p in list(range(base, base + n)) + list(range(base + 10000, base + 10000 + n)):
            s = socket.socket(); s.bind(("127.0.0.1", p)); socks.append(s)
        print(base); break
    except OSError:
        pass
    finally:
        for s in socks: s.close()
PY
}

# median prints the median of the whitespace-separated numbers on stdin.
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A R # R["server|TEST|pipeline"] holds one req/s figure per round

# bench_rounds ROUNDS REQUESTS REDIS_PORT CHKV_PORT [redis-benchmark flags...]
# runs SET and GET at -P 1 and -P 16 against both servers, interleaved;
# -P 16 runs REQUESTS times P16_SCALE requests (default 1).
bench_rounds() {
  local rounds=$1 n=$2 rport=$3 cport=$4; shift 4
  local round P srv port test rps
  for round in $(seq $rounds); do
    for P in 1 16; do
      local np=$n; [ $P = 16 ] && np=$((n * ${P16_SCALE:-1}))
      for srv in redis chkv; do
        port=$rport; [ $srv = chkv ] && port=$cport
        while IFS=, read -r test rps _; do
          test=${test//\"/}; rps=${rps//\"/}
          R["$srv|$test|$P"]+="$rps "
        done < <(redis-benchmark "$@" -h 127.0.0.1 -p $port -t set,get -c 50 -P $P -r 100000 -n $np -q --csv 2>/dev/null | grep -E '^"(SET|GET)"')
      done
    done
  done
}

# print_ratios LABEL prints the medians of R and chkv's ratio to the server named LABEL.
print_ratios() {
  local label=$1 test P r c
  printf "| %-6s | %-9s | %20s | %14s | %11s |\n" test pipeline "$label req/s" "chkv req/s" "chkv/redis"
  printf "|--------|-----------|----------------------|----------------|-------------|\n"
  for test in SET GET; do
    for P in 1 16; do
      r=$(echo "${R[redis|$test|$P]}" | median); c=$(echo "${R[chkv|$test|$P]}" | median)
      printf "| %-6s | -P %-6s | %20.0f | %14.0f | %10.2fx |\n" $test $P $r $c $(echo "$c / $r" | bc -l)
    done
  done
}

# rss_kb PID prints the resident set size of PID in KiB.
rss_kb() { awk '/VmRSS/ {print $2}' /proc/$1/status; }

# start_servers starts redis-server and $TMP/chkv (with CHKV_FLAGS) on free
# loopback ports (RPORT, CPORT; pids RPID, CPID) and waits until both answer.
# SERVER_CPUS, if set, pins both to those CPUs (taskset -c LIST).
start_servers() {
  RPORT=$(free_port); CPORT=$(free_port)
  local pin=""; [ -n "${SERVER_CPUS:-}" ] && pin="taskset -c $SERVER_CPUS"
  $pin redis-server --port $RPORT --bind 127.0.0.1 --save "" --appendonly no --daemonize no >"$TMP/redis.log" 2>&1 &
  RPID=$!
  $pin "$TMP/chkv" server --addr 127.0.0.1:$CPORT ${CHKV_FLAGS:-} >"$TMP/chkv.log" 2>&1 &
  CPID=$!
  for p in $RPORT $CPORT; do
    for _ in $(seq 100); do redis-cli -p $p ping >/dev/null 2>&1 && break; sleep 0.05; done
  done
}

# stop_servers stops what start_servers started.
stop_servers() { kill $RPID $CPID; wait $RPID $CPID 2>/dev/null || true; }
