#!/usr/bin/env bash
# Issue 5 / approval gates (docs/approvals.md), unsigned.
#
#  1. A production gate with count 2 and a live (interactive) run: it prints
#     the exact approve command; the starter's own approval is refused with
#     the reason (and audited); one approval leaves it waiting; the same
#     person twice counts once; a second distinct approver releases it and
#     the waiting process goes on by itself.
#  2. A role-restricted gate (the environment's policy in summit.lua):
#     approvers without the role, or not listed, are refused; a platform
#     lead releases it; `summit runs --waiting` and `summit status` show
#     what waits on whom.
#  3. Timeouts (--time-scale): "rollback" runs the undo path; "fail" leaves
#     the run failed without undo and resumable (the gate is asked again,
#     attempt 2); "pause" keeps the gate open past its deadline
#     (approval.overdue) and a late approval still releases it.
#  4. A rejection (comment required) fails the run and its undo runs.
#  5. Bind: --bind version=v1 on a gate asking about v2 is refused; the same
#     gate asked twice (v1, then v2): approvals of the first never release
#     the second; a forged decision row bound to v1 does not count either.
#     A suspended gate without deadline gives the run no wake time.
#  6. SIGKILL while waiting; approvals given while no process runs; then
#     `resume` proceeds without asking again.
#  7. Misuse of approval.require raises at once, naming the argument.
#  8. runs --waiting also lists runs suspended on a sleep.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

W=$T/wd
cat >"$W/summit.lua" <<'EOF'
return {
  environments = {
    staging = { approval = { count = 1, roles = { "platform-lead" } } },
  },
  approvers = {
    alice = { "platform-lead" },
    bob = { "senior-engineer" },
    carol = { "platform-lead", "senior-engineer" },
  },
}
EOF
cd "$W"
rb=$RUNBOOKS/approval_gate.lua

# as USER NAME ARGS...: summit ARGS as $SUMMIT_USER=USER (like sm).
as() {
  local user=$1
  shift
  SUMMIT_USER=$user sm "$@"
}

# gate_open RUN GATE: `summit runs --waiting --json` lists the gate of RUN.
gate_open() {
  "$SUMMIT" runs --waiting --json | py 'import json,sys
for l in sys.stdin:
    w = json.loads(l)
    if w["run"] == sys.argv[1] and w.get("gate") == sys.argv[2]:
        sys.exit(0)
sys.exit(1)' "$1" "$2"
}

# start_detached NAME ARGS...: summit run --detach; sets RUN; must suspend.
start_detached() {
  local name=$1
  shift
  sm "$name" run "$rb" --detach "$@"
  expect_rc 3 "$name" "$name: the run suspends at the gate (--detach)"
  RUN=$(newest_run)
  expect_status "$RUN" suspended "$name"
}

say "1. production gate, count 2, a live run"
w1=$T/w1
mkdir -p "$w1"
bg_run g1 run "$rb" -p dir="$w1"
pid1=$BG_PID
run1=$NEW_RUN
wait_until 30 "the gate to open" gate_open "$run1" production
wait_until 10 "the approve command to be printed" grep -q "approve with" "$T/g1.out"
has "$T/g1.out" "approve with: summit approve $run1 --gate production" \
  "the interactive run prints the exact command"
has "$T/g1.out" "needs 2 approvals" "and what the gate needs"
eq "$(waiting "$run1" command)" "summit approve $run1 --gate production" "runs --waiting gives the command"

as tester self approve "$run1" --gate production
expect_rc 1 self "the starter's own approval"
has "$T/self.err" "tester started this run and cannot approve it (allow_self = false)" \
  "it is refused with the reason"
eq "$(audit_count "$run1" approval.refused "allow_self")" 1 "the refusal is in the audit trail"

as alice a1 approve "$run1" --gate production --comment "tests are green"
expect_rc 0 a1 "alice approves"
has "$T/a1.out" "(1 of 2); still needs 1 more approval" "one approval leaves the gate waiting"
eq "$(waiting "$run1" has)" alice "runs --waiting: alice has approved"
as alice a2 approve "$run1" --gate production
expect_rc 0 a2 "alice approves again"
has "$T/a2.out" "counted once" "the same person twice counts once"
eq "$(waiting "$run1" have)" 1 "still 1 of 2"
kill -0 "$pid1" 2>/dev/null || die "the run stopped waiting after one distinct approver"
ok "the run still waits with one distinct approver"
as bob b1 approve "$run1" --gate production
expect_rc 0 b1 "bob approves"
has "$T/b1.out" "the gate is released (2 of 2)" "a second distinct approver releases it"
has "$T/b1.out" "goes on by itself" "and the live run goes on by itself"
bg_wait "$pid1"
[[ $RC -eq 0 ]] || { show g1; die "the released run exited $RC"; }
ok "the waiting process finished: exit 0"
expect_status "$run1" succeeded "run 1"
eq "$(cat "$w1/trace")" "deploy v1
promote v1 approved by alice,bob" "deploy and promote ran once each, promote after alice and bob"
has "$T/g1.out" "gate 'production' approved by alice, bob" "the run's output says who released the gate"
eq "$(audit_count "$run1" approval.given)" 3 "three approvals audited (approval.given)"
eq "$(audit_count "$run1" approval.granted '"approvers":["alice","bob"]')" 1 "approval.granted names alice and bob"
eq "$(audit_count "$run1" approval.requested '"count":2')" 1 "approval.requested holds the policy"
eq "$(waiting "$run1" gate)" "<not waiting>" "the released gate is no longer listed"

say "2. a role-restricted gate (environments.staging.approval in summit.lua)"
w2=$T/w2
mkdir -p "$w2"
start_detached g2 -p dir="$w2" -p gate=staging -p count=1
run2=$RUN
eq "$(waiting "$run2" needs)" "1 approval (1 from platform-lead)" "the environment's roles apply"
"$SUMMIT" runs --waiting >"$T/waiting2.out"
has "$T/waiting2.out" "gate 'staging'" "runs --waiting (human) names the gate"
has "$T/waiting2.out" "approve with: summit approve $run2 --gate staging" "and the command"
"$SUMMIT" status "$run2" >"$T/status2.out"
has "$T/status2.out" "gate 'staging' (key 2)" "summit status shows the open gate"
eq "$(run_field "$run2" waits | py 'import json,sys; print(json.load(sys.stdin)[0]["gate"])')" staging \
  "summit status --json lists it under waits"
as bob r1 approve "$run2" --gate staging
expect_rc 1 r1 "bob (senior-engineer) approves"
has "$T/r1.err" "bob holds none of the roles gate 'staging' requires (platform-lead)" \
  "an approver without the role is refused, with the reason"
as dave r2 approve "$run2" --gate staging
expect_rc 1 r2 "dave (not an approver) approves"
has "$T/r2.err" "dave is not listed in approvers in summit.lua" "refused: not listed"
eq "$(waiting "$run2" have)" 0 "nothing counted"
as alice r3 approve "$run2" --gate staging
expect_rc 0 r3 "alice (platform-lead) approves"
has "$T/r3.out" "continue the run with: summit resume $run2" "no process runs: it says how to go on"
sm r4 resume "$run2" --json
expect_rc 0 r4 "the resumed run"
expect_status "$run2" succeeded "run 2"
hasnt "$T/r4.out" '"wait.started"' "the resumed run did not wait"

say "3a. timeout with on_timeout = \"rollback\": the undo path runs"
w3=$T/w3
mkdir -p "$w3"
sm t1 run "$rb" -p dir="$w3" -p timeout=1h -p on_timeout=rollback --time-scale 3600 --json
expect_rc 1 t1 "the run whose gate timed out"
run3=$(newest_run)
expect_status "$run3" rolled_back "run 3a"
eq "$(cat "$w3/trace")" "deploy v1
undo deploy v1" "the deploy was undone; nothing was promoted"
has "$T/t1.out" "ETIMEDOUT" "the error is ETIMEDOUT"
has "$T/t1.out" '"outcome":"timed_out"' "wait.finished says timed_out"
eq "$(audit_count "$run3" approval.timed_out)" 1 "approval.timed_out is audited"

say "3b. timeout with on_timeout = \"fail\": failed, no undo, asked again on resume"
w4=$T/w4
mkdir -p "$w4"
sm t2 run "$rb" -p dir="$w4" -p timeout=1h -p on_timeout=fail -p count=1 --time-scale 3600
expect_rc 1 t2 "the run whose gate timed out"
run4=$(newest_run)
expect_status "$run4" failed "run 3b"
eq "$(cat "$w4/trace")" "deploy v1" "no undo ran"
has "$T/t2.out" "resume with: summit resume $run4" "it says how to resume"
as alice t3 approve "$run4" --gate production
expect_rc 1 t3 "approving the timed-out gate"
has "$T/t3.err" "not waiting on gate 'production'" "refused: nothing waits any more"
# The second request gets a minute (1h / 60): time for two ASan CLI calls
# on a loaded machine before the approval.
sm t4 resume "$run4" --detach --time-scale 60
expect_rc 3 t4 "the resumed run asks again and suspends"
eq "$(waiting "$run4" attempt)" 2 "the gate is asked again as attempt 2"
as alice t5 approve "$run4" --gate production
expect_rc 0 t5 "alice approves attempt 2"
sm t6 resume "$run4" --time-scale 3600
expect_rc 0 t6 "the run resumed after the approval"
expect_status "$run4" succeeded "run 3b"
eq "$(tail -n 1 "$w4/trace")" "promote v1 approved by alice" "promoted after the second request"

say "3c. timeout with on_timeout = \"pause\": overdue, still open, a late approval releases it"
w5=$T/w5
mkdir -p "$w5"
bg_run p1 run "$rb" -p dir="$w5" -p timeout=1h -p on_timeout=pause -p count=1 --time-scale 3600 --json
pid5=$BG_PID
run5=$NEW_RUN
wait_until 30 "the gate to go overdue" grep -q '"approval.overdue"' "$T/p1.out"
ok "approval.overdue was emitted"
eq "$(waiting "$run5" deadline)" "" "the overdue gate has no deadline any more"
eq "$(audit_count "$run5" approval.overdue)" 1 "approval.overdue is audited"
as alice p2 approve "$run5" --gate production
expect_rc 0 p2 "a late approval"
bg_wait "$pid5"
[[ $RC -eq 0 ]] || { show p1; die "the overdue run exited $RC after the late approval"; }
ok "the late approval released the gate: exit 0"
expect_status "$run5" succeeded "run 3c"

say "4. a rejection fails the run and its undo runs"
w6=$T/w6
mkdir -p "$w6"
bg_run j1 run "$rb" -p dir="$w6"
pid6=$BG_PID
run6=$NEW_RUN
wait_until 30 "the gate to open" gate_open "$run6" production
as bob j2 reject "$run6" --gate production
expect_rc 2 j2 "reject without --comment"
has "$T/j2.err" "needs --comment" "a rejection needs a comment"
as tester j3 reject "$run6" --gate production --comment "mine"
expect_rc 1 j3 "the starter rejects"
has "$T/j3.err" "cannot approve it" "only someone allowed to approve may reject"
as bob j4 reject "$run6" --gate production --comment "error budget is spent"
expect_rc 0 j4 "bob rejects"
bg_wait "$pid6"
eq "$RC" 1 "the rejected run exits 1"
expect_status "$run6" rolled_back "run 4 (its undo ran)"
eq "$(cat "$w6/trace")" "deploy v1
undo deploy v1" "the deploy was undone; nothing was promoted"
err=$(run_field "$run6" error)
echo "$err" >"$T/j.error"
has "$T/j.error" '"code": "EREJECTED"' "the run's error is EREJECTED"
has "$T/j.error" "rejected by bob: error budget is spent" "naming who and why"
eq "$(audit_count "$run6" approval.rejected "error budget")" 1 "approval.rejected is audited"

say "5. bind: an approval is for exactly the values it names"
w7=$T/w7
mkdir -p "$w7"
start_detached v1 -p dir="$w7" -p version=v2 -p count=1
run7=$RUN
as alice v2 approve "$run7" --gate production --bind version=v1
expect_rc 1 v2 "approving v1 on a gate asking about v2"
has "$T/v2.err" "alice approves version=v1, but gate 'production' asks about version=v2" \
  "refused, naming both versions"
eq "$(waiting "$run7" have)" 0 "the gate still waits"
as alice v3 approve "$run7" --gate production --bind version=v2
expect_rc 0 v3 "approving v2"
sm v4 resume "$run7"
expect_rc 0 v4 "the run released by the v2 approval"

w8=$T/w8
mkdir -p "$w8"
sm v5 run "$RUNBOOKS/approval_twice.lua" -p dir="$w8" --detach --json
expect_rc 3 v5 "the first request (v1) suspends"
run8=$(newest_run)
grep '"event":"run.suspended"' "$T/v5.out" >"$T/v5.suspended" || die "no run.suspended event"
hasnt "$T/v5.suspended" '"until"' "a gate without deadline gives the suspended run no wake time"
eq "$(run_field "$run8" wake)" "" "and none is stored"
as alice v6 approve "$run8" --gate release --bind version=v1
expect_rc 0 v6 "alice approves v1"
sm v7 resume "$run8" --detach
expect_rc 3 v7 "after v1 shipped, the second request (v2) suspends"
eq "$(cat "$w8/trace")" "ship v1" "v1 shipped, v2 not"
eq "$(waiting "$run8" have)" 0 "the approval of v1 does not count for v2"
key2=$(waiting "$run8" key)
# A forged decision: a row on the v2 request, bound to v1.
forge_approval "$run8" "$key2" release alice
sm v8 resume "$run8" --detach
expect_rc 3 v8 "a decision row bound to v1 does not release the v2 gate"
has "$T/v8.out" "does not count" "the run says why it ignores it"
as alice v9 approve "$run8" --gate release
expect_rc 0 v9 "alice approves v2"
sm v10 resume "$run8"
expect_rc 0 v10 "the run finishes"
eq "$(cat "$w8/trace")" "ship v1
ship v2" "both versions shipped, each after its own approval"

say "6. SIGKILL while waiting; approvals with no process; resume does not ask again"
w9=$T/w9
mkdir -p "$w9"
bg_run k1 run "$rb" -p dir="$w9"
pid9=$BG_PID
run9=$NEW_RUN
wait_until 30 "the gate to open" gate_open "$run9" production
kill -9 "$pid9"
bg_wait "$pid9"
eq "$RC" 137 "summit was killed while waiting"
eq "$(entry_field "$run9" 2 state)" started "the approval entry is in flight"
as alice k2 approve "$run9" --gate production
expect_rc 0 k2 "alice approves the run nobody executes"
as bob k3 approve "$run9" --gate production
expect_rc 0 k3 "bob approves it"
has "$T/k3.out" "continue the run with: summit resume $run9" "and is told how it goes on"
sm k4 resume "$run9" --json
expect_rc 0 k4 "resume"
hasnt "$T/k4.out" '"wait.started"' "the resumed run did not ask again"
expect_status "$run9" succeeded "run 6"
eq "$(cat "$w9/trace")" "deploy v1
promote v1 approved by alice,bob" "deploy ran once, promote once"
eq "$(entry_field "$run9" 2 attempt)" 1 "the gate kept its attempt (not asked anew)"
eq "$(audit_count "$run9" approval.requested)" 1 "approval.requested was recorded once"

say "7. misuse raises at once, naming the argument"
for c in count:"bad argument 'count'" gate:"bad argument 'gate'" roles:"bad argument 'roles'" \
         unknown:"bad argument 'colour' (unknown option" bind:"bad argument 'bind.version'" \
         on_timeout:"bad argument 'on_timeout'" nobody:"no one in summit.lua's approvers holds sre" \
         signed:"bad argument 'signed' (a signed gate needs an allowed_signers"; do
  case=${c%%:*}
  want=${c#*:}
  sm bad_$case run "$RUNBOOKS/approval_bad.lua" -p case="$case"
  expect_rc 1 "bad_$case" "approval.require with a bad $case"
  cat "$T/bad_$case.out" "$T/bad_$case.err" >"$T/bad_$case.all"
  has "$T/bad_$case.all" "$want" "  the error names it"
  has "$T/bad_$case.all" "approval_bad.lua:" "  with the runbook's file:line"
done
sm u1 approve nosuchrun --gate production
expect_rc 2 u1 "approving a run that does not exist"
sm u2 approve "$run1" --gate production
expect_rc 1 u2 "approving a finished run"
has "$T/u2.err" "has finished (succeeded)" "refused: it has finished"
sm u3 approve "$run1"
expect_rc 2 u3 "approve without --gate"

say "8. runs --waiting lists runs suspended on a sleep too"
mkdir -p "$T/ws"
sm s1 run "$RUNBOOKS/sleep.lua" -p dir="$T/ws" -p d=1h --detach
expect_rc 3 s1 "a run suspended on sleep(1h)"
runS=$(newest_run)
"$SUMMIT" runs --waiting --json | py 'import json,sys
for l in sys.stdin:
    w = json.loads(l)
    if w["run"] == sys.argv[1]:
        ok = w["kind"] == "sleep" and w.get("wake") and w["command"] == "summit resume " + sys.argv[1]
        sys.exit(0 if ok else 1)
sys.exit(1)' "$runS" || { "$SUMMIT" runs --waiting --json >&2; die "the sleeping run is not listed with its wake time"; }
ok "the sleeping run is listed with its wake time and the resume command"
"$SUMMIT" runs --waiting >"$T/waitingS.out"
has "$T/waitingS.out" "sleep until" "runs --waiting (human) shows the sleep"

say "9. a run cancelled while it waits on a gate, with no process, leaves no open gate"
mkdir -p "$T/w9"
start_detached c9 -p dir="$T/w9"
runC=$RUN
sm c9cancel cancel "$runC"
expect_rc 0 c9cancel "cancel the waiting run"
"$SUMMIT" runs --waiting --json >"$T/waitingC.out"
hasnt "$T/waitingC.out" "$runC" "runs --waiting no longer lists it"
# (status --json lists no waits of a finished run: only the row tells.)
open_waits=$(state_sql "SELECT count(*) FROM waits WHERE run_id = ?" "$runC")
eq "$open_waits" 0 "its wait row is closed"
sm c9approve approve "$runC" --gate production
expect_rc 1 c9approve "approving the cancelled run"
has "$T/c9approve.err" "has finished (cancelled)" "refused: it has finished"

