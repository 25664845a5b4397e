#!/usr/bin/env bash
# bench: the commands that read a journal (DESIGN §10: "status, log, runs,
# audit verify: linear in what they read, a 100,000-entry run in under
# 1 s each"), over a run of 10,000 and one of 100,000 steps.
#
#   bash bench/journal.sh [BUILD_DIR]        (default: build)
#
# Each run is made by a runbook looping over trivial steps, with
# --durability=process (the journal is the same; only the fsyncs differ).
# Every command is timed BENCH_JOURNAL_REPEAT times (3), process start to
# exit, output to /dev/null; the median is reported, with the ratio
# T(100k)/T(10k): linear is about 10 (a little less, since start-up is in
# both), quadratic about 100. Knobs: BENCH_JOURNAL_SMALL (10000),
# BENCH_JOURNAL_BIG (100000). Prints a table; never asserts.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_setup bench/journal "${1:-build}"
SMALL=${BENCH_JOURNAL_SMALL:-10000}
BIG=${BENCH_JOURNAL_BIG:-100000}
REPEAT=${BENCH_JOURNAL_REPEAT:-3}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/summit-bench-journal.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
unset SUMMIT_LUA_DIR NO_COLOR

# make_run N: a state dir $WORK/sN holding one finished run of N steps.
make_run() {
  local n=$1
  steps_runbook bench-journal "$n" >"$WORK/steps$n.lua"
  SUMMIT_STATE_DIR=$WORK/s$n "$SUMMIT" run "$WORK/steps$n.lua" \
    --durability=process >/dev/null 2>"$WORK/err" ||
    { cat "$WORK/err" >&2; die "the $n-step run failed"; }
  newest_run "$WORK/s$n"
}

# timed N ARGS...: median ms of summit ARGS against $WORK/sN.
timed() {
  local n=$1 t0 t1 r
  shift
  for r in $(seq "$REPEAT"); do
    t0=${EPOCHREALTIME/./}
    SUMMIT_STATE_DIR=$WORK/s$n "$SUMMIT" "$@" >/dev/null 2>"$WORK/err" ||
      { cat "$WORK/err" >&2; die "summit $* failed"; }
    t1=${EPOCHREALTIME/./}
    calc "($t1 - $t0) / 1e3"
  done | median
}

echo "journal commands: a $SMALL-step and a $BIG-step run (2 rows per step), x$REPEAT each"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
RS=$(make_run "$SMALL")
RB=$(make_run "$BIG")
printf "%-26s %12s %12s %10s %s\n" "command" "${SMALL} (ms)" "${BIG} (ms)" "ratio" "goal (< 1 s at 100k; ratio ~10)"
for cmd in "status" "status --json" "log" "log --json" "runs" "runs --json" \
           "audit verify" "audit export --run"; do
  case $cmd in
    status*|log*|"audit export --run") a=("$RS") b=("$RB") ;;
    *) a=() b=() ;;
  esac
  # shellcheck disable=SC2086
  ts=$(timed "$SMALL" $cmd "${a[@]}")
  # shellcheck disable=SC2086
  tb=$(timed "$BIG" $cmd "${b[@]}")
  verdict=$(awk "BEGIN {print ($tb < 1000) ? \"met\" : \"MISSED\"}")
  printf "%-26s %12.1f %12.1f %9.1fx %s\n" "$cmd" "$ts" "$tb" \
    "$(calc "$tb / $ts")" "$verdict"
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
