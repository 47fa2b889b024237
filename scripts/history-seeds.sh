#!/usr/bin/env bash
# Seeded fault schedules: runs the replicated history check (kills, restarts,
# partitions, delays, joins and leaves under a concurrent workload, checked
# with porcupine and for lost acknowledged writes) once per seed, with 1 and
# with 2 replicas, and prints the figures and the command that replays each
# failing seed.
#
#   scripts/history-seeds.sh [SEEDS] [FIRST_SEED]
#
# Environment: JOBS (parallel runs, default 2), LOAD (how long the nemesis
# starts new changes in each run, default 3s), REPLICAS (default "1 2"),
# OUT (directory for the logs of failing seeds, default /tmp/chkv-seeds);
# CHKV_HISTORY_FAULT=copycut makes the fault of every join a partition
# between a copy's source and target (the class that found the late ABORT);
# CHKV_HISTORY_FAULT=cutoff makes it a cut between the NameNode and the copy's
# source or target until that node is declared down (the class of 90045).
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${1:-1000}
first=${2:-1}
jobs=${JOBS:-2}
load=${LOAD:-3s}
out=${OUT:-/tmp/chkv-seeds}
mkdir -p "$out"
bin="$out/chkv.test"
go test -c -o "$bin" .

run_one() { # replicas seed
  local test=TestHistoryMemReplicated
  [ "$1" = 2 ] && test=TestHistoryMemReplicated2
  local log="$out/r$1-seed$2.log"
  if CHKV_REPL_HISTORY=1 CHKV_HISTORY_SEED=$2 CHKV_HISTORY_LOAD=$load CHKV_HISTORY_DIR="$out/r$1-seed$2" \
      "$bin" -test.run "^$test\$" -test.count=1 -test.timeout 10m >"$log" 2>&1; then
    rm -rf "$log" "$out/r$1-seed$2"; echo "pass r$1 $2"
  else
    echo "FAIL r$1 $2"
  fi
}
export -f run_one
export out bin load

start=$(date +%s)
results="$out/results.txt"
: >"$results"
for r in ${REPLICAS:-1 2}; do
  seq "$first" $((first + seeds - 1)) | sed "s/^/$r /"
done | xargs -P "$jobs" -n 2 bash -c 'run_one "$0" "$1"' | tee -a "$results" | grep --line-buffered FAIL || true

took=$(( $(date +%s) - start ))
for r in ${REPLICAS:-1 2}; do
  pass=$(grep -c "^pass r$r " "$results" || true)
  fail=$(grep -c "^FAIL r$r " "$results" || true)
  echo "replicas $r: $pass seeds passed, $fail failed"
  { grep "^FAIL r$r " "$results" || true; } | while read -r _ _ seed; do
    t=TestHistoryMemReplicated; [ "$r" = 2 ] && t=TestHistoryMemReplicated2
    echo "  replay: CHKV_REPL_HISTORY=1 CHKV_HISTORY_SEED=$seed CHKV_HISTORY_LOAD=$load go test -count=1 -run '^$t\$' .   (log: $out/r$r-seed$seed.log)"
  done
done
echo "$(wc -l <"$results") runs in ${took}s (LOAD=$load, JOBS=$jobs)"
! grep -q FAIL "$results"
