#!/usr/bin/env bash
# bench: how the commands that read a journal grow with what they read
# (DESIGN §10: "status, log, runs, audit verify: linear in what they read,
# a 100,000-entry run in under 1 s each"; issue 17: "... and a resume, at
# 1k, 10k and 100k entries or runs, with the fitted exponent; memory of a
# 100,000-step run stays flat").
#
#   bash bench/journal.sh [BUILD_DIR]        (default: build)
#
# For each size N (BENCH_GROWTH_SIZES, default "1000 10000 100000") a state
# dir holds one run of N trivial steps then sleep("1h"), made with --detach
# and --durability=process (the journal is the same; only the fsyncs
# differ): it suspends, so `summit resume RUN --detach` replays its N
# entries and suspends again. `runs` is timed over N runs: 10 real runs,
# then copies of their rows made with sqlite3 (a run per process would take
# N x 15 ms). Every command is timed BENCH_JOURNAL_REPEAT times (3),
# process start to exit, output to /dev/null; the median is reported.
#
# The exponent k of T(N) - T(1) ~ N^k, between consecutive sizes, where
# T(1) is the same command over a one-step run (process start, opening the
# database): linear is k = 1, quadratic k = 2. Also printed: the peak RSS of the run that made the
# biggest journal and of its resume (should not grow with N). Prints a
# table; never asserts (tests never time anything).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_setup bench/journal "${1:-build}"
SIZES=${BENCH_GROWTH_SIZES:-"1000 10000 100000"}
REPEAT=${BENCH_JOURNAL_REPEAT:-3}
command -v sqlite3 >/dev/null || die "sqlite3 not found (make deps)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/summit-bench-journal.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
unset SUMMIT_LUA_DIR NO_COLOR

# peak_rss_kb CMD...: runs CMD (output discarded), prints its peak RSS in KB.
peak_rss_kb() {
  python3 - "$@" <<'PY'
import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
PY
}

# make_run N: $WORK/sN holds one run of N steps, suspended on sleep("1h");
# prints the peak RSS (KB) of making it.
make_run() {
  local n=$1
  steps_runbook bench-journal "$n" 'sleep("1h")' >"$WORK/steps$n.lua"
  SUMMIT_STATE_DIR=$WORK/s$n peak_rss_kb "$SUMMIT" run "$WORK/steps$n.lua" \
    --detach --durability=process
  [ "$(newest_run "$WORK/s$n")" != "" ] || die "the $n-step run failed"
}

# make_runs N: $WORK/rN holds N runs (10 real ones, the rest copies).
make_runs() {
  local n=$1 i
  for i in $(seq 10); do
    SUMMIT_STATE_DIR=$WORK/r$n "$SUMMIT" run "$WORK/steps1.lua" --detach \
      --durability=process >/dev/null 2>&1 || true
  done
  sqlite3 "$WORK/r$n/state.db" "
    CREATE TEMP TABLE c AS WITH RECURSIVE k(x) AS (SELECT 1 UNION ALL
      SELECT x + 1 FROM k WHERE x < ($n - 10) / 10) SELECT x FROM k;
    CREATE TEMP TABLE t AS SELECT runs.* FROM runs, c;
    UPDATE t SET id = id || '-' || rowid, created_ms = created_ms - rowid;
    INSERT INTO runs SELECT * FROM t;"
}

# timed DIR ARGS...: median ms of summit ARGS against state dir DIR.
timed() {
  local dir=$1 t0 t1 r rc
  shift
  for r in $(seq "$REPEAT"); do
    rc=0
    t0=${EPOCHREALTIME/./}
    SUMMIT_STATE_DIR=$dir "$SUMMIT" "$@" >/dev/null 2>"$WORK/err" || rc=$?
    t1=${EPOCHREALTIME/./}
    # resume --detach of a sleeping run suspends again: exit 3
    [ "$rc" = 0 ] || [ "$rc" = 3 ] || { cat "$WORK/err" >&2; die "summit $* exited $rc"; }
    calc "($t1 - $t0) / 1e3"
  done | median
}

# exponents "N T N T ..." T1: for each pair of consecutive sizes, the
# exponent k of T - T1 ~ N^k between them: log((T2 - T1) / (Ta - T1)) /
# log(N2 / Na). Prints them joined by "/"; the last (the biggest sizes)
# is the verdict's, since the smallest sizes are mostly process start.
exponents() {
  echo "$1" | awk -v t1="$2" '{
    for (i = 1; i < NF; i += 2) { d = $(i + 1) - t1; if (d < 0.5) d = 0.5;
      x[++n] = $i; y[n] = d }
    for (i = 2; i <= n; i++)
      printf "%s%.2f", (i > 2 ? "/" : ""), log(y[i] / y[i - 1]) / log(x[i] / x[i - 1]) }'
}

echo "growth: commands over 1 and $(echo "$SIZES" | tr ' ' '/') entries or runs, x$REPEAT each (medians, ms)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
steps_runbook bench-one 1 >"$WORK/steps1.lua"
SUMMIT_STATE_DIR=$WORK/s1 "$SUMMIT" run "$WORK/steps1.lua" --durability=process >/dev/null
declare -A RSS RID
for n in $SIZES; do
  RSS[$n]=$(make_run "$n")
  RID[$n]=$(newest_run "$WORK/s$n")
  make_runs "$n"
done
R1=$(newest_run "$WORK/s1")
BIG=${SIZES##* }

printf "%-20s %9s" "command" "1"
for n in $SIZES; do printf " %9s" "$n"; done
printf " %11s  %s\n" "exponents" "verdict (< 1 s at the biggest; last exponent <= 1.15)"
for cmd in "status" "status --json" "log" "log --json" "runs" "runs --json" \
           "audit verify" "resume --detach"; do
  case $cmd in
    runs*) t1=$(timed "$WORK/s1" $cmd) ;;
    "resume --detach") t1=$(timed "$WORK/s1" status "$R1") ;;  # a finished run: no resume
    "audit verify") t1=$(timed "$WORK/s1" $cmd) ;;
    *) t1=$(timed "$WORK/s1" $cmd "$R1") ;;
  esac
  pts="" row=""
  for n in $SIZES; do
    case $cmd in
      runs*) t=$(timed "$WORK/r$n" $cmd) ;;
      "audit verify") t=$(timed "$WORK/s$n" $cmd) ;;
      *) t=$(timed "$WORK/s$n" $cmd "${RID[$n]}") ;;
    esac
    pts="$pts $n $t"
    row="$row $(printf " %9.1f" "$t")"
    tb=$t
  done
  ks=$(exponents "$pts" "$t1")
  k=${ks##*/}
  verdict=$(awk "BEGIN {print ($tb < 1000 && $k <= 1.15) ? \"met\" : \"MISSED\"}")
  printf "%-20s %9.1f%s %11s  %s\n" "$cmd" "$t1" "$row" "$ks" "$verdict"
done
printf "%-20s" "peak RSS of the run"
for n in $SIZES; do printf " %7.1fMB" "$(calc "${RSS[$n]} / 1024")"; done
printf "\n"
rss_resume=$(SUMMIT_STATE_DIR=$WORK/s$BIG peak_rss_kb "$SUMMIT" resume "${RID[$BIG]}" --detach)
echo "peak RSS of resuming the $BIG-entry run: $(printf %.1f "$(calc "$rss_resume / 1024")") MB (it loads the journal; the run itself: goal flat, ~15 MB)"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
