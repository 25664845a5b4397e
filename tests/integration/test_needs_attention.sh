#!/usr/bin/env bash
# Issue 2 / non-idempotent steps and failed runs.
#
#  1. step{ "migrate", fn, idempotent = false } is SIGKILLed while its exec
#     runs: `summit resume` exits 6 and says the run needs attention, with
#     the command to decide (--retry | --skip); status needs_attention; a
#     second plain resume still exits 6; `resume --skip` continues past it:
#     the migrate effect did not run again, the next step ran, the journal
#     records the skip by the operator.
#  2. Same crash in another run, `resume --retry`: migrate runs again (its
#     exec at attempt 2, the note naming the operator), the run succeeds.
#  3. A run whose second step fails (a marker file is missing) exits 1 and
#     is `failed`; after the marker is created, `summit resume` re-runs
#     only the failed step (attempt 2) and succeeds: the first step's
#     effect happened once, the failed step's twice, the third's once.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
rb=$RUNBOOKS/attention.lua

# crash_in_migrate NAME DIR: starts the runbook and SIGKILLs summit while
# the migrate exec runs; sets RUN.
crash_in_migrate() {
  local name=$1 w=$2
  mkdir -p "$w/pids"
  bg_run "$name" run "$rb" -p dir="$w"
  local pid=$BG_PID
  RUN=$NEW_RUN
  wait_until 30 "the migrate exec to run" test -s "$w/count.migrate"
  wait_until 10 "the migrate exec (2/1) to show as started in the journal" journal_has "$RUN" 2/1 started
  kill -9 "$pid"
  bg_wait "$pid"
  eq "$RC" 137 "$name: summit was killed inside the migrate step"
}

say "1. SIGKILL inside a non-idempotent step, then --skip"
w1=$T/w1
crash_in_migrate crash1 "$w1"
run1=$RUN
sm r1 resume "$run1"
expect_rc 6 r1 "resume of a run killed inside a non-idempotent step"
cat "$T/r1.out" "$T/r1.err" >"$T/r1.all"
has "$T/r1.all" "summit resume $run1 --retry" "it gives the command to decide (--retry)"
has "$T/r1.all" "--skip" "it mentions --skip"
has "$T/r1.all" "migrate" "it names the step"
expect_status "$run1" needs_attention "the interrupted run"
eq "$(run_field "$run1" failed_key)" 2 "the run points at the migrate step (key 2)"
eq "$(lines "$w1/count.migrate")" 1 "migrate did not run again on the refused resume"
sm r1b resume "$run1"
expect_rc 6 r1b "a second plain resume"
cat "$T/r1b.out" "$T/r1b.err" >"$T/r1b.all"
has "$T/r1b.all" "needs attention" "it says the run needs attention"
has "$T/r1b.all" "--retry" "and how to decide"
sm skip resume "$run1" --skip
expect_rc 0 skip "resume --skip"
expect_status "$run1" succeeded "the skipped run"
eq "$(lines "$w1/count.migrate")" 1 "the migrate effect did not run again"
eq "$(lines "$w1/count.prepare")" 1 "the step before ran once"
eq "$(lines "$w1/count.finish")" 1 "the step after migrate ran"
eq "$(entry_field "$run1" 2 state)" skipped "the journal shows migrate skipped"
"$SUMMIT" log "$run1" --json >"$T/log1.jsonl"
has "$T/log1.jsonl" "tester" "the log names the operator who skipped (SUMMIT_USER=tester)"
touch "$w1/release"   # lets the orphaned migrate process from the crash end

say "2. SIGKILL inside a non-idempotent step, then --retry"
w2=$T/w2
crash_in_migrate crash2 "$w2"
run2=$RUN
sm r2 resume "$run2"
expect_rc 6 r2 "resume of the second crashed run"
expect_status "$run2" needs_attention "the second run"
touch "$w2/release"   # the retried migrate (and the orphan) may finish now
sm retry resume "$run2" --retry
expect_rc 0 retry "resume --retry"
expect_status "$run2" succeeded "the retried run"
eq "$(lines "$w2/count.migrate")" 2 "migrate ran again"
eq "$(lines "$w2/count.prepare")" 1 "the step before ran once"
eq "$(lines "$w2/count.finish")" 1 "the step after ran once"
"$SUMMIT" log "$run2" --json | py 'import json,sys
rows = [json.loads(l) for l in sys.stdin]
hit = [r for r in rows if r["key"] in ("2", "2/1") and r["attempt"] == 2
       and r["state"] == "started" and "retry" in (r.get("note") or "") and "tester" in (r.get("note") or "")]
sys.exit(0 if hit else 1)' || { "$SUMMIT" log "$run2" >&2; die "the log shows no attempt 2 of migrate (key 2 or 2/1) noted as a retry by tester"; }
ok "the log shows migrate's attempt 2, a retry chosen by tester"
eq "$(entry_field "$run2" 2 state)" completed "migrate is completed"

say "3. a failed run, resumed, re-runs only the failed step"
w3=$T/w3
mkdir -p "$w3"
sm f1 run "$RUNBOOKS/flaky.lua" -p dir="$w3"
expect_rc 1 f1 "run whose second step fails"
run3=$(newest_run)
expect_status "$run3" failed "the failing run"
cat "$T/f1.out" "$T/f1.err" >"$T/f1.all"
has "$T/f1.all" "marker missing" "the failure shows the command's stderr"
eq "$(lines "$w3/count.third")" 0 "the step after the failure did not run"
touch "$w3/marker"
sm f2 resume "$run3" --json
expect_rc 0 f2 "resume of the failed run"
expect_status "$run3" succeeded "the resumed run"
eq "$(lines "$w3/count.first")" 1 "the first step ran once"
eq "$(lines "$w3/count.second")" 2 "the failed step ran again"
eq "$(lines "$w3/count.third")" 1 "the third step ran once"
has "$T/f2.out" '"step.replayed"' "the resume replayed the first step"
"$SUMMIT" log "$run3" --json | py 'import json,sys
rows = [json.loads(l) for l in sys.stdin]
ok = any(r["key"] in ("2", "2/1") and r["attempt"] == 2 and r["state"] == "completed" for r in rows)
first = [r for r in rows if r["key"] == "1" and r["state"] == "started"]
sys.exit(0 if ok and len(first) == 1 else 1)' || { "$SUMMIT" log "$run3" >&2; die "the log does not show the failed step completed at attempt 2 with step 1 started once"; }
ok "the log shows the failed step completed at attempt 2; step 1 started once"
