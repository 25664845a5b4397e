# What the bench scripts share (sourced, not run): where the build is, how
# they stop, how they summarise timings, how they time one summit command,
# the runbook of N trivial steps.
#
#   . "$(dirname "$0")/lib.sh"; bench_setup NAME "${1:-build}"
#
# NAME prefixes the messages of die. Needs bash >= 5 (EPOCHREALTIME).
export LC_ALL=C   # '.' decimal point for EPOCHREALTIME, printf and awk

die() { echo "$BENCH_NAME: $*" >&2; exit 1; }

# bench_setup NAME BUILD_DIR: sets BENCH_NAME, ROOT (the checkout), BUILD
# (absolute) and SUMMIT, and dies unless the build has summit and bash can
# read the clock without forking ($(date) would add a fork/exec of date to
# every measured interval).
bench_setup() {
  BENCH_NAME=$1
  BUILD=$2
  ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
  SUMMIT=$BUILD/summit
  [ -x "$SUMMIT" ] || die "no $SUMMIT (run make build)"
  [ -n "${EPOCHREALTIME:-}" ] || die "bash >= 5 needed (EPOCHREALTIME)"
}

# median of the numbers on stdin
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2];
                                           else print (a[NR/2]+a[NR/2+1])/2}'; }
calc() { awk "BEGIN {print $*}"; }

# steps_runbook NAME N [LUA]: prints a runbook of N steps that each return
# their number, then run LUA (a statement, e.g. sleep("1h")).
steps_runbook() {
  cat <<EOR
return runbook {
  name = "$1", version = "1.0.0",
  run = function()
    for i = 1, $2 do step("s" .. i, function() return i end) end${3:+
    $3}
  end,
}
EOR
}

# timed_summit WANT STATE_DIR ARGS...: runs summit ARGS with that state dir
# (its stderr in $WORK/stderr), dies unless it exits WANT; prints elapsed ms.
timed_summit() {
  local want=$1 state=$2; shift 2
  local t0 t1 rc=0
  t0=${EPOCHREALTIME/./}
  SUMMIT_STATE_DIR=$state "$SUMMIT" "$@" >/dev/null 2>"$WORK/stderr" || rc=$?
  t1=${EPOCHREALTIME/./}
  [ "$rc" = "$want" ] || { cat "$WORK/stderr" >&2;
    die "summit $* exited $rc, expected $want"; }
  calc "($t1 - $t0) / 1e3"
}

# verdict EXPR: "met" when the awk expression EXPR holds, else "MISSED".
verdict() { awk "BEGIN {exit !($1)}" && echo "met" || echo "MISSED"; }

# line WHAT SUMMIT BASELINE RATIO GOAL VERDICT: a row of a results table;
# results_header prints the table's title and header.
line() { printf "%-36s %-16s %-22s %-8s %-14s %s\n" "$@"; }
results_header() {
  echo "results (medians; goals from DESIGN §10)"
  line "what" "summit" "baseline" "ratio" "goal" "verdict"
  line "----" "------" "--------" "-----" "----" "-------"
}

# newest_run STATE_DIR: the id of the newest run there.
newest_run() {
  SUMMIT_STATE_DIR=$1 "$SUMMIT" runs --json | head -1 |
    sed -E 's/.*"run":"([^"]+)".*/\1/'
}
