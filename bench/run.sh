#!/usr/bin/env bash
# make bench: the performance goals of DESIGN §10, each measured against a
# baseline in the same run, on the same machine and filesystem.
#
#   bash bench/run.sh [BUILD_DIR]        (default: build)
#
# Knobs (environment): BENCH_STEPS (10000), BENCH_REPEAT (5, for the step
# cost, the group commit and the exec step), BENCH_REPLAYS (5),
# BENCH_BRANCHES (1000), BENCH_EXECS (200), BENCH_COLD (40 runs for cold start),
# BENCH_DIR (work directory; default BUILD_DIR/bench-work, removed after).
# Prints a table; never asserts (tests never time anything). See
# docs/performance.md for the method.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_setup bench "${1:-build}"
STEPS=${BENCH_STEPS:-10000}
REPEAT=${BENCH_REPEAT:-5}
REPLAYS=${BENCH_REPLAYS:-5}
COLD=${BENCH_COLD:-40}
BRANCHES=${BENCH_BRANCHES:-1000}
EXECS=${BENCH_EXECS:-200}
WORK=${BENCH_DIR:-$BUILD/bench-work}

cmake --build "$BUILD" --target bench_commit >/dev/null ||
  die "cannot build bench_commit"
COMMIT=$BUILD/bench_commit
LUAJIT=$(command -v luajit) || die "luajit not found"

rm -rf "$WORK"
mkdir -p "$WORK"
trap 'rm -rf "$WORK"' EXIT
unset SUMMIT_LUA_DIR NO_COLOR

minimum() { sort -g | head -1; }
fmt() { printf "%.${2:-3}f" "$1"; }

# ---- runbooks ---------------------------------------------------------------
steps_runbook bench-steps "$STEPS" >"$WORK/steps.lua"
cat >"$WORK/one.lua" <<'EOF'
return runbook {
  name = "bench-one", version = "1.0.0",
  run = function() step("s1", function() return 1 end) end,
}
EOF
steps_runbook bench-replay "$STEPS" 'sleep("1h")' >"$WORK/replay.lua"
cat >"$WORK/parallel.lua" <<EOF
return runbook {
  name = "bench-parallel", version = "1.0.0",
  run = function()
    local b = {}
    for i = 1, $BRANCHES do
      b[i] = function() return step("s" .. i, function() return i end) end
    end
    parallel(b)
  end,
}
EOF
cat >"$WORK/exec.lua" <<EOF
return runbook {
  name = "bench-exec", version = "1.0.0",
  run = function()
    for i = 1, $EXECS do
      step("s" .. i, function() return exec({ "/bin/true" }).code end)
    end
  end,
}
EOF

FS=$(df -T "$WORK" | awk 'NR == 2 {print $2 " on " $1}')
echo "summit bench: $(nproc) cores, $(uname -m), work dir $WORK ($FS)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews every figure)"
echo "binary $SUMMIT ($(SUMMIT_STATE_DIR=$WORK/v "$SUMMIT" version 2>/dev/null | head -1))"
echo

# ---- (a) cost of one durable step --------------------------------------------
# Interleaved so drift (page cache, other load) hits both sides alike:
#   commit: bench_commit, $STEPS durable commits (WAL, synchronous=FULL)
#   wall:   (time of a $STEPS-step run - time of a 1-step run) / ($STEPS - 1),
#           each in a fresh state dir (the database is created both times)
#   stamps: the run's own journal: (last completed ts - first completed ts)
#           / ($STEPS - 1), i.e. without process start and teardown
echo "(a) per-step cost: $STEPS-step runbook vs $STEPS raw durable commits, x$REPEAT"
: >"$WORK/a.commit"; : >"$WORK/a.wall"; : >"$WORK/a.stamps"
: >"$WORK/a.rwall"; : >"$WORK/a.rstamps"
for r in $(seq "$REPEAT"); do
  line=$("$COMMIT" "$WORK/commit.db" "$STEPS" full)
  c=$(echo "$line" | sed -E 's/.*per_commit_ms=([0-9.]+).*/\1/')
  echo "$c" >>"$WORK/a.commit"

  s1=$WORK/state-one-$r; sN=$WORK/state-steps-$r
  t1=$(timed_summit 0 "$s1" run "$WORK/one.lua")
  tN=$(timed_summit 0 "$sN" run "$WORK/steps.lua")
  w=$(calc "($tN - $t1) / ($STEPS - 1)")
  echo "$w" >>"$WORK/a.wall"
  calc "$w / $c" >>"$WORK/a.rwall"

  stamps=-
  if command -v sqlite3 >/dev/null; then
    id=$(newest_run "$sN")
    q="SELECT count(*), max(ts_ms) - min(ts_ms) FROM journal
       WHERE run_id = '$id' AND state = 'completed' AND kind = 'step'"
    IFS='|' read -r n span < <(sqlite3 "$sN/state.db" "$q")
    [ "$n" = "$STEPS" ] || die "run $id journaled $n completed steps, not $STEPS"
    stamps=$(calc "$span / ($STEPS - 1)")
    echo "$stamps" >>"$WORK/a.stamps"
    calc "$stamps / $c" >>"$WORK/a.rstamps"
  fi
  printf "  run %d: commit %.4f ms | %d-step run %.0f ms, 1-step run %.1f ms -> %.4f ms/step | journal stamps %s ms/step\n" \
    "$r" "$c" "$STEPS" "$tN" "$t1" "$w" "$stamps"
  rm -rf "$s1" "$sN"
done
A_COMMIT=$(median <"$WORK/a.commit")
A_WALL=$(median <"$WORK/a.wall")
A_STAMPS=$( [ -s "$WORK/a.stamps" ] && median <"$WORK/a.stamps" || echo "")
# Ratios are taken per interleaved pair, then the median of the ratios.
R_WALL=$(median <"$WORK/a.rwall")
R_ST=$( [ -s "$WORK/a.rstamps" ] && median <"$WORK/a.rstamps" || echo "")
spread() { sort -g "$1" | awk 'NR == 1 {lo = $1} {hi = $1}
                                END {printf "%.2f-%.2f", lo, hi}'; }
echo "  per-pair ratios (wall-clock diff): $(sort -g "$WORK/a.rwall" |
  awk '{printf "%.2f ", $1}')(spread $(spread "$WORK/a.rwall"))"
echo

# ---- (b) replay of a $STEPS-entry journal -----------------------------------
# A run of $STEPS steps then sleep("1h"), with --detach: it suspends (exit 3).
# Each `summit resume RUN --detach` replays the $STEPS completed entries
# (no step body runs) and suspends again on the journaled wake time (exit 3).
# Timed: the whole resume command, process start to exit.
echo "(b) replay: summit resume of a run with $STEPS completed steps, x$REPLAYS"
sB=$WORK/state-replay
timed_summit 3 "$sB" run "$WORK/replay.lua" --detach >/dev/null
RID=$(newest_run "$sB")
: >"$WORK/b"
for r in $(seq "$REPLAYS"); do
  t=$(timed_summit 3 "$sB" resume "$RID" --detach)
  echo "$t" >>"$WORK/b"
done
if command -v sqlite3 >/dev/null; then
  ran=$(sqlite3 "$sB/state.db" "SELECT count(*) FROM journal WHERE run_id = '$RID'
        AND state = 'started' AND kind = 'step'")
  [ "$ran" = "$STEPS" ] || die "replay ran step bodies again ($ran started rows)"
fi
echo "  resume times (ms): $(tr '\n' ' ' <"$WORK/b")"
B_MED=$(median <"$WORK/b"); B_MIN=$(minimum <"$WORK/b")
rm -rf "$sB"
echo

# ---- (d) group commit: a parallel of $BRANCHES one-step branches ----------
# Interleaved: bench_commit making $BRANCHES raw durable commits (total
# time), then a run of parallel{} over $BRANCHES branches of one step each
# and a 1-step run (both in fresh state dirs): summit's cost is their
# difference. Goal (DESIGN §10): at most 1/10 of the $BRANCHES commits.
echo "(d) group commit: parallel of $BRANCHES one-step branches vs $BRANCHES raw commits, x$REPEAT"
: >"$WORK/d.ratio"; : >"$WORK/d.summit"; : >"$WORK/d.commit"
for r in $(seq "$REPEAT"); do
  line=$("$COMMIT" "$WORK/commit.db" "$BRANCHES" full)
  c=$(echo "$line" | sed -E 's/.*total_ms=([0-9.]+).*/\1/')
  t1=$(timed_summit 0 "$WORK/d-one-$r" run "$WORK/one.lua")
  tP=$(timed_summit 0 "$WORK/d-par-$r" run "$WORK/parallel.lua")
  d=$(calc "$tP - $t1")
  echo "$c" >>"$WORK/d.commit"; echo "$d" >>"$WORK/d.summit"
  calc "$d / $c" >>"$WORK/d.ratio"
  printf "  run %d: %d commits %.1f ms | parallel run %.1f ms - 1-step run %.1f ms = %.1f ms (%.3fx)\n" \
    "$r" "$BRANCHES" "$c" "$tP" "$t1" "$d" "$(calc "$d / $c")"
  rm -rf "$WORK/d-one-$r" "$WORK/d-par-$r"
done
D_COMMIT=$(median <"$WORK/d.commit"); D_SUMMIT=$(median <"$WORK/d.summit")
R_PAR=$(median <"$WORK/d.ratio")
echo "  per-pair ratios: $(sort -g "$WORK/d.ratio" | awk '{printf "%.3f ", $1}')(spread $(spread "$WORK/d.ratio"))"
echo

# ---- (e) a step that runs one exec ---------------------------------------
# Interleaved: bench_commit making $EXECS raw commits (per commit), a bash
# loop running /bin/true $EXECS times (fork+exec, per process), then a run
# of $EXECS steps that each exec /bin/true and a 1-step run: per step =
# difference / $EXECS. Goal: within 1.5x of (fork+exec + one raw commit).
echo "(e) exec step: $EXECS steps of exec /bin/true vs a bash loop of fork+exec + one raw commit each, x$REPEAT"
: >"$WORK/e.ratio"; : >"$WORK/e.step"; : >"$WORK/e.base"
for r in $(seq "$REPEAT"); do
  line=$("$COMMIT" "$WORK/commit.db" "$EXECS" full)
  c=$(echo "$line" | sed -E 's/.*per_commit_ms=([0-9.]+).*/\1/')
  t0=${EPOCHREALTIME/./}
  for ((i = 0; i < EXECS; i++)); do /bin/true; done
  t1=${EPOCHREALTIME/./}
  f=$(calc "($t1 - $t0) / 1e3 / $EXECS")
  o=$(timed_summit 0 "$WORK/e-one-$r" run "$WORK/one.lua")
  tE=$(timed_summit 0 "$WORK/e-exec-$r" run "$WORK/exec.lua")
  st=$(calc "($tE - $o) / $EXECS")
  b=$(calc "$f + $c")
  echo "$st" >>"$WORK/e.step"; echo "$b" >>"$WORK/e.base"
  calc "$st / $b" >>"$WORK/e.ratio"
  printf "  run %d: fork+exec %.3f ms + commit %.3f ms = %.3f ms | summit %.3f ms/step (%.2fx)\n" \
    "$r" "$f" "$c" "$b" "$st" "$(calc "$st / $b")"
  rm -rf "$WORK/e-one-$r" "$WORK/e-exec-$r"
done
E_STEP=$(median <"$WORK/e.step"); E_BASE=$(median <"$WORK/e.base")
R_EXEC=$(median <"$WORK/e.ratio")
echo "  per-pair ratios: $(sort -g "$WORK/e.ratio" | awk '{printf "%.2f ", $1}')(spread $(spread "$WORK/e.ratio"))"
echo

# ---- (c) cold start ---------------------------------------------------------
# $COLD rounds; each round times, one process at a time with bash's
# EPOCHREALTIME (so the shell's fork/exec cost is in every figure):
#   luajit -e ''            the anchor of DESIGN §10
#   summit version          process start only: exec, dynamic linking, exit
#   summit validate one.lua + a lua_State, embedded modules, the runbook
#   summit run one.lua      a whole one-step run: a new run in a state dir
#                           whose database exists (first run untimed)
#   the same, --durability process   without its fsyncs (what is CPU)
#   the same, the runbook in a git work tree   (+ `git status`, provenance)
# then 10 one-step runs in fresh state dirs (creating the database).
# The runbook and state of these runs live in a temporary directory outside
# any git work tree (the build directory is inside one): a runbook in a
# work tree makes summit start `git status` (docs/provenance.md), which is
# timed separately. Same filesystem as the rest unless TMPDIR says otherwise.
echo "(c) cold start: one-step run vs luajit -e '', x$COLD each"
COLD_DIR=$(mktemp -d "${TMPDIR:-/tmp}/summit-bench-cold.XXXXXX")
trap 'rm -rf "$WORK" "$COLD_DIR"' EXIT
cp "$WORK/one.lua" "$COLD_DIR/one.lua"
sC=$COLD_DIR/state-cold
timed_summit 0 "$sC" run "$COLD_DIR/one.lua" >/dev/null
timed_summit 0 "$WORK/state-git" run "$WORK/one.lua" >/dev/null
: >"$WORK/c.summit"; : >"$WORK/c.luajit"; : >"$WORK/c.version"
: >"$WORK/c.validate"; : >"$WORK/c.nosync"; : >"$WORK/c.git"
for r in $(seq "$COLD"); do
  t0=${EPOCHREALTIME/./}; "$LUAJIT" -e ''; t1=${EPOCHREALTIME/./}
  calc "($t1 - $t0) / 1e3" >>"$WORK/c.luajit"
  timed_summit 0 "$sC" version >>"$WORK/c.version"
  timed_summit 0 "$sC" validate "$COLD_DIR/one.lua" >>"$WORK/c.validate"
  timed_summit 0 "$sC" run "$COLD_DIR/one.lua" >>"$WORK/c.summit"
  timed_summit 0 "$sC" run --durability process "$COLD_DIR/one.lua" >>"$WORK/c.nosync"
  timed_summit 0 "$WORK/state-git" run "$WORK/one.lua" >>"$WORK/c.git"
done
C_SUMMIT=$(median <"$WORK/c.summit"); C_LUAJIT=$(median <"$WORK/c.luajit")
C_SUMMIT_MIN=$(minimum <"$WORK/c.summit")
C_VERSION=$(median <"$WORK/c.version"); C_VALIDATE=$(median <"$WORK/c.validate")
C_NOSYNC=$(median <"$WORK/c.nosync"); C_GIT=$(median <"$WORK/c.git")
# p25-p75 of a list of timings (the spread docs/performance.md quotes)
spread() { sort -g | awk '{a[NR] = $1} END {printf "%.2f-%.2f", a[int((NR + 3) / 4)], a[int((3 * NR + 3) / 4)]}'; }
C_SPREAD=$(spread <"$WORK/c.summit")
: >"$WORK/c.fresh"
for r in $(seq 10); do
  timed_summit 0 "$COLD_DIR/state-fresh-$r" run "$COLD_DIR/one.lua" >>"$WORK/c.fresh"
  rm -rf "$COLD_DIR/state-fresh-$r"
done
C_FRESH=$(median <"$WORK/c.fresh")
echo "  medians: run $(fmt "$C_SUMMIT" 2) ms (min $(fmt "$C_SUMMIT_MIN" 2), p25-p75 $C_SPREAD), run --durability process $(fmt "$C_NOSYNC" 2) ms, version $(fmt "$C_VERSION" 2) ms, validate $(fmt "$C_VALIDATE" 2) ms, luajit -e '' $(fmt "$C_LUAJIT" 2) ms, run in a fresh state dir $(fmt "$C_FRESH" 2) ms"
echo

# ---- table --------------------------------------------------------------------
results_header
line "durable step, wall-clock diff" "$(fmt "$A_WALL" 4) ms/step" \
     "$(fmt "$A_COMMIT" 4) ms/commit" "$(fmt "$R_WALL" 2)x" "<= 1.2x" \
     "$(verdict "$R_WALL <= 1.2")"
if [ -n "$A_STAMPS" ]; then
  line "durable step, journal timestamps" "$(fmt "$A_STAMPS" 4) ms/step" \
       "$(fmt "$A_COMMIT" 4) ms/commit" "$(fmt "$R_ST" 2)x" "<= 1.2x" \
       "$(verdict "$R_ST <= 1.2")"
fi
line "group commit, $BRANCHES branches" "$(fmt "$D_SUMMIT" 1) ms" \
     "$BRANCHES commits $(fmt "$D_COMMIT" 1) ms" "$(fmt "$R_PAR" 3)x" "<= 0.1x" \
     "$(verdict "$R_PAR <= 0.1")"
line "exec step (exec /bin/true)" "$(fmt "$E_STEP" 3) ms/step" \
     "fork+exec+commit $(fmt "$E_BASE" 3)" "$(fmt "$R_EXEC" 2)x" "<= 1.5x" \
     "$(verdict "$R_EXEC <= 1.5")"
line "replay $STEPS entries (resume)" "$(fmt "$B_MED" 1) ms" \
     "min $(fmt "$B_MIN" 1) ms" "-" "< 150 ms" "$(verdict "$B_MED < 150")"
line "cold start, one-step run" "$(fmt "$C_SUMMIT" 2) ms" \
     "luajit -e '' $(fmt "$C_LUAJIT" 2) ms" \
     "$(fmt "$(calc "$C_SUMMIT / $C_LUAJIT")" 1)x" "< 5 ms" \
     "$(verdict "$C_SUMMIT < 5")"
for row in "run, --durability process:$C_NOSYNC" \
           "run, runbook in a git work tree:$C_GIT" \
           "run in a fresh state dir:$C_FRESH" "summit version (exec+link):$C_VERSION" \
           "summit validate (+ Lua, runbook):$C_VALIDATE"; do
  line "  ${row%%:*}" "$(fmt "${row##*:}" 2) ms" \
       "luajit -e '' $(fmt "$C_LUAJIT" 2) ms" \
       "$(fmt "$(calc "${row##*:} / $C_LUAJIT")" 1)x" "(info)" "-"
done
line "status, log, runs, audit verify" "below (bench/journal.sh)" "-" "-" "< 1 s at 100k" "-"
line "1,000 HTTP checks" "below (bench/http.sh)" "curl --parallel" "-" "<= 1.5x" "-"
line "per-step cost on PostgreSQL" "below (bench/pg.sh)" "raw libpq commit" "-" "<= 1.5x" "-"
line "summit serve: GET /api/v1/runs" "not measured" "nginx, same bytes" "-" ">= 1/3" "(no summit serve yet)"
echo
echo "method: wall-clock diff = (T($STEPS-step run) - T(1-step run)) / ($STEPS - 1);"
echo "journal timestamps = (last - first completed step ts_ms) / ($STEPS - 1);"
echo "baseline = bench/bench_commit: one INSERT per BEGIN IMMEDIATE/COMMIT, WAL,"
echo "synchronous=FULL, same filesystem. Step ratios: median of per-pair ratios."
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)."
echo
bash "$ROOT/bench/http.sh" "$BUILD"
echo
bash "$ROOT/bench/journal.sh" "$BUILD"
echo
bash "$ROOT/bench/pg.sh" "$BUILD"
