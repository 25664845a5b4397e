#!/usr/bin/env bash
# Issue 2 / bad input: every kind of bad input is refused with the right
# exit code and a message that names what is wrong, and none of them
# damages state.
#
#  - syntax error -> exit 2, stderr has file:line (run and validate)
#  - missing required / wrongly typed / unknown param -> exit 2 naming it,
#    and no run is created
#  - resume of a finished run or of an unknown run id -> exit 2
#  - a step returning a function -> the run fails (exit 1), the error says
#    the result must be JSON-serialisable; the step is journaled failed
#  - an unknown global reached at run time -> exit 1 naming the global and
#    its line; the step before it completed
#  - a corrupt state database (garbage; and a real database with a
#    corrupt page) -> non-zero exit, an error naming the file, the file's
#    bytes unchanged (sha256)
#  - an unusable state database (state.db is a directory; chmod 000 when
#    not root) -> non-zero exit naming the file
#  - two concurrent `summit resume` of one run -> exactly one exits 5 and
#    names the pid holding the run, the other succeeds; a `summit resume`
#    of a live `summit run` exits 5
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

say "syntax error"
sm syn run "$RUNBOOKS/bad_syntax.lua"
expect_rc 2 syn "run of a runbook with a syntax error"
has "$T/syn.err" "bad_syntax.lua:6:" "stderr gives the file:line of the syntax error"
sm synv validate "$RUNBOOKS/bad_syntax.lua"
expect_rc 2 synv "validate of a runbook with a syntax error"
has "$T/synv.err" "bad_syntax.lua:6:" "validate gives the file:line too"
eq "$(run_count)" 0 "no run was created"

say "params"
rb=$RUNBOOKS/params.lua
sm p_ok run "$rb" -p n=3 -p label=x
expect_rc 0 p_ok "run with good params (control)"
runs_before=$(run_count)
sm p_missing run "$rb" -p n=3
expect_rc 2 p_missing "missing required param"
has "$T/p_missing.err" "label" "the error names the missing param 'label'"
sm p_type run "$rb" -p n=abc -p label=x
expect_rc 2 p_type "-p n=abc for a number param"
has "$T/p_type.err" "'n'" "the error names the wrongly typed param 'n'"
has "$T/p_type.err" "abc" "the error shows the bad value"
sm p_bool run "$rb" -p n=1 -p label=x -p flag=maybe
expect_rc 2 p_bool "-p flag=maybe for a boolean param"
has "$T/p_bool.err" "flag" "the error names the boolean param 'flag'"
sm p_unknown run "$rb" -p n=3 -p label=x -p colour=red
expect_rc 2 p_unknown "unknown param"
has "$T/p_unknown.err" "colour" "the error names the unknown param 'colour'"
printf '{"n": "three", "label": "x"}' >"$T/params.json"
sm p_file run "$rb" --params-file "$T/params.json"
expect_rc 2 p_file "--params-file with a string for a number"
has "$T/p_file.err" "'n'" "the error names param 'n'"
eq "$(run_count)" "$runs_before" "no run was created by the refused invocations"

say "resume of what cannot be resumed"
p_run=$(newest_run)
sm r_done resume "$p_run"
expect_rc 2 r_done "resume of a run that succeeded"
has "$T/r_done.err" "$p_run" "the error names the run"
sm r_none resume 01nosuchrun000
expect_rc 2 r_none "resume of an unknown run id"
has "$T/r_none.err" "01nosuchrun000" "the error names the unknown run id"

say "a step returning a function"
sm badres run "$RUNBOOKS/bad_result.lua"
expect_rc 1 badres "run whose step returns a function"
cat "$T/badres.out" "$T/badres.err" >"$T/badres.all"
has "$T/badres.all" "JSON-serialisable" "the error says results must be JSON-serialisable"
has "$T/badres.all" "function" "the error says a function was returned"
run=$(newest_run)
expect_status "$run" failed "run with a function result"
eq "$(entry_field "$run" 1 state)" failed "the step is journaled as failed"
run_field "$run" error >"$T/badres.status"
has "$T/badres.status" "JSON-serialisable" "summit status shows the error"

say "an unknown global at run time"
sm badglob run "$RUNBOOKS/bad_global.lua"
expect_rc 1 badglob "run that uses an unknown global"
cat "$T/badglob.out" "$T/badglob.err" >"$T/badglob.all"
has "$T/badglob.all" "stpe" "the error names the global 'stpe'"
has "$T/badglob.all" "bad_global.lua:7" "the error gives the line (bad_global.lua:7)"
run=$(newest_run)
expect_status "$run" failed "run with an unknown global"
eq "$(entry_field "$run" 1 state)" completed "the step before the typo completed"
run_field "$run" error >"$T/badglob.status"
has "$T/badglob.status" "stpe" "summit status shows the error naming 'stpe'"

say "a corrupt state database (garbage bytes)"
export SUMMIT_STATE_DIR=$T/corrupt
mkdir -p "$SUMMIT_STATE_DIR"
db=$SUMMIT_STATE_DIR/state.db
head -c 8192 /dev/urandom >"$db"
sum=$(sha256sum "$db" | cut -d' ' -f1)
sm c_run run "$rb" -p n=1 -p label=x
[[ $RC -ne 0 ]] || die "summit run on a corrupt state database exited 0"
ok "summit run on a corrupt state database fails (exit $RC)"
has "$T/c_run.err" "$db" "the error names the database file"
sm c_runs runs
[[ $RC -ne 0 ]] || die "summit runs on a corrupt state database exited 0"
ok "summit runs on a corrupt state database fails (exit $RC)"
has "$T/c_runs.err" "$db" "summit runs names the database file"
sm c_resume resume 01abc
[[ $RC -ne 0 ]] || die "summit resume on a corrupt state database exited 0"
has "$T/c_resume.err" "$db" "summit resume names the database file"
eq "$(sha256sum "$db" | cut -d' ' -f1)" "$sum" "the corrupt file's bytes are unchanged"

say "a corrupt state database (valid header, a garbage page)"
export SUMMIT_STATE_DIR=$T/corrupt2
db=$SUMMIT_STATE_DIR/state.db
sm c2_seed run "$rb" -p n=1 -p label=x
expect_rc 0 c2_seed "a run to fill the database (control)"
# Overwrite page 2 (the runs table's root with 4 KiB pages) with garbage.
py 'import sys
f = open(sys.argv[1], "r+b"); f.seek(4096); f.write(bytes([0xde, 0xad, 0xbe, 0xef]) * 1024); f.close()' "$db"
rm -f "$db-wal" "$db-shm"
sum=$(sha256sum "$db" | cut -d' ' -f1)
sm c2_run run "$rb" -p n=1 -p label=x
[[ $RC -ne 0 ]] || die "summit run on a database with a corrupt page exited 0"
ok "summit run on a database with a corrupt page fails (exit $RC)"
sm c2_runs runs
[[ $RC -ne 0 ]] || die "summit runs on a database with a corrupt page exited 0"
ok "summit runs on a database with a corrupt page fails (exit $RC)"
eq "$(sha256sum "$db" | cut -d' ' -f1)" "$sum" "the corrupt file's bytes are unchanged"
soft_has "$T/c2_run.err" "$db" "summit run names the corrupt database file"
soft_has "$T/c2_runs.err" "$db" "summit runs names the corrupt database file"

say "an unusable state database"
export SUMMIT_STATE_DIR=$T/dirdb
mkdir -p "$SUMMIT_STATE_DIR/state.db"
sm d_run run "$rb" -p n=1 -p label=x
[[ $RC -ne 0 ]] || die "summit run with state.db a directory exited 0"
ok "summit run with state.db a directory fails (exit $RC)"
has "$T/d_run.err" "$SUMMIT_STATE_DIR/state.db" "the error names the state database"
if [[ $(id -u) -eq 0 ]]; then
  echo "  (skipped chmod 000: running as root, permissions do not block reads)"
else
  export SUMMIT_STATE_DIR=$T/noperm
  sm np_seed run "$rb" -p n=1 -p label=x
  expect_rc 0 np_seed "a run to create the database (control)"
  chmod 000 "$SUMMIT_STATE_DIR/state.db"
  sm np_runs runs
  [[ $RC -ne 0 ]] || die "summit runs on an unreadable state.db exited 0"
  has "$T/np_runs.err" "$SUMMIT_STATE_DIR/state.db" "the error names the unreadable state.db"
  chmod 600 "$SUMMIT_STATE_DIR/state.db"
  chmod 000 "$SUMMIT_STATE_DIR"
  sm np_run run "$rb" -p n=1 -p label=x
  chmod 700 "$SUMMIT_STATE_DIR"
  [[ $RC -ne 0 ]] || die "summit run with an unreadable state dir exited 0"
  has "$T/np_run.err" "$SUMMIT_STATE_DIR" "the error names the unreadable state directory"
fi

say "two concurrent resumes of one run"
export SUMMIT_STATE_DIR=$T/state
w=$T/w-conc
mkdir -p "$w"
sm conc_run run "$RUNBOOKS/sleep.lua" -p dir="$w" -p d=1500ms --detach
expect_rc 3 conc_run "run --detach that suspends in a 1.5 s sleep"
run=$(newest_run)
bg_start conc1 resume "$run"
p1=$BG_PID
bg_start conc2 resume "$run"
p2=$BG_PID
bg_wait "$p1"
rc1=$RC
bg_wait "$p2"
rc2=$RC
echo "  resume pid $p1 exited $rc1, resume pid $p2 exited $rc2"
if [[ $rc1 -eq 0 && $rc2 -eq 5 ]]; then
  winner=$p1 loser=conc2
elif [[ $rc1 -eq 5 && $rc2 -eq 0 ]]; then
  winner=$p2 loser=conc1
else
  show conc1 conc2
  die "expected one resume to exit 0 and the other 5, got $rc1 and $rc2"
fi
ok "exactly one resume exited 5 (busy), the other succeeded"
has_num "$T/$loser.err" "$winner" "the busy resume names the pid holding the run ($winner)"
expect_status "$run" succeeded "the run"
eq "$(lines "$w/count.before") $(lines "$w/count.after")" "1 1" "each step ran once"

say "resume of a live summit run"
# (a 5 s sleep: the resume below must come while it runs, on a slow machine too)
w=$T/w-live
mkdir -p "$w"
bg_run live run "$RUNBOOKS/sleep.lua" -p dir="$w" -p d=5s
lp=$BG_PID
run=$NEW_RUN
wait_until 30 "the live run to reach its sleep" journal_has "$run" 2 started
sm busy resume "$run"
expect_rc 5 busy "resume of a run a live process executes"
has_num "$T/busy.err" "$lp" "the error names the live pid ($lp)"
bg_wait "$lp"
eq "$RC" 0 "the live run was not disturbed and succeeded"
expect_status "$run" succeeded "the live run"
eq "$(lines "$w/count.before") $(lines "$w/count.after")" "1 1" "each step ran once"
