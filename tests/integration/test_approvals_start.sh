#!/usr/bin/env bash
# Issue 12 item 7: who started a run, for a signed gate that forbids
# self-approval (allow_self = false, the default). Real ssh-keygen keys.
#
#  1. Mallory starts a run claiming SUMMIT_USER=alice (unsigned), then
#     approves it with her own key: refused, the start is not signed (main
#     accepted it: a self-approval). Nobody's approval counts there.
#  2. A signed start (summit run --sign) by alice: her own approval is
#     refused, bob's releases the gate; the run resumes and succeeds;
#     run.started in the audit trail says signed_by alice.
#  3. --sign with a key that is not the claimed user's: exit 2, no run.
#  4. The database is not trusted: a start signature swapped for another
#     run's, or started_by rewritten to bob, is refused by summit approve
#     and by the run itself (a valid approval row written into the
#     database does not release the gate).
#  5. allow_self = true: an unsigned start is fine on a signed gate.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

command -v ssh-keygen >/dev/null || die "ssh-keygen is needed (openssh-client)"
W=$T/wd
K=$T/keys
ssh_keys "$K" alice bob mallory
for who in alice bob mallory; do signer "$who" "$K/$who"; done >"$W/allowed_signers"
cat >"$W/summit.lua" <<'EOF'
return {
  allowed_signers = "allowed_signers",
  approvers = { alice = { "lead" }, bob = { "lead" }, mallory = { "lead" } },
}
EOF
cd "$W"
rb=$RUNBOOKS/approval_gate.lua

# start_as NAME AS ARGS...: a run started as $SUMMIT_USER=AS, suspended at a
# signed gate of count 1; sets RUN.
start_as() {
  local name=$1 as=$2
  shift 2
  mkdir -p "$T/$name"
  SUMMIT_USER=$as sm "$name" run "$rb" --detach -p dir="$T/$name" -p signed=true -p count=1 "$@"
  expect_rc 3 "$name" "$name: the run suspends at the signed gate"
  RUN=$(newest_run)
}

say "1. an unsigned start claiming alice, approved by its real starter"
start_as u1 alice
run1=$RUN
SUMMIT_USER=mallory sm m1 approve "$run1" --gate production --sign "$K/mallory"
expect_rc 1 m1 "mallory's approval of the run she started as alice"
has "$T/m1.err" "start was not signed" "refused: who started it is not known"
has "$T/m1.err" "--sign KEYFILE" "and says how to sign a start"
SUMMIT_USER=bob sm m2 approve "$run1" --gate production --sign "$K/bob"
expect_rc 1 m2 "bob's approval of the unsigned start"
expect_status "$run1" suspended "the unsigned run still waits"
"$SUMMIT" runs --waiting --json >"$T/waiting1.json"
has "$T/waiting1.json" '"have":0' "runs --waiting counts nothing for it"

say "2. a signed start: alice cannot approve her own run, bob can"
start_as s2 alice --sign "$K/alice"
run2=$RUN
eq "$(audit_count "$run2" run.started '"signed_by":"alice"')" 1 \
  "run.started records the signed starter"
"$SUMMIT" runs --waiting --json >"$T/waiting2.json"
has "$T/waiting2.json" '"signed_start":true' "runs --waiting shows the signed start"
SUMMIT_USER=alice sm a2 approve "$run2" --gate production --sign "$K/alice"
expect_rc 1 a2 "alice approves the run she started"
has "$T/a2.err" "alice started this run and cannot approve it" "refused: self-approval"
SUMMIT_USER=bob sm b2 approve "$run2" --gate production --sign "$K/bob"
expect_rc 0 b2 "bob approves alice's signed run"
sm r2 resume "$run2"
expect_rc 0 r2 "the run resumes (it checks the start signature itself)"
expect_status "$run2" succeeded "run 2"
eq "$(tail -n 1 "$T/s2/trace")" "promote v1 approved by bob" "released by bob"

say "3. --sign with a key that is not the claimed user's"
before=$(run_count)
mkdir -p "$T/x3"
SUMMIT_USER=alice sm x3 run "$rb" --detach --sign "$K/mallory" -p dir="$T/x3" -p signed=true -p count=1
expect_rc 2 x3 "mallory's key for a start as alice"
has "$T/x3.err" "does not verify as alice" "the start is refused, naming the claimed user"
eq "$(run_count)" "$before" "no run was recorded"

say "4. a tampered start in the database"
start_as t4 alice --sign "$K/alice"
run4=$RUN
key4=$(waiting "$run4" key)
# bob's valid approval of run 4's gate, written straight into the database.
SUMMIT_USER=bob sm msg4 approve "$run4" --gate production --message
expect_rc 0 msg4 "the message of run 4's gate"
ssh-keygen -q -Y sign -f "$K/bob" -n summit-approval <"$T/msg4.out" >"$T/msg4.sig"
# The start signature of run 2 (alice's, valid, for another run): no
# command writes a run's start signature but `summit run --sign`.
state_sql "UPDATE runs SET start_sig = (SELECT start_sig FROM runs WHERE id = ?) WHERE id = ?" "$run2" "$run4"
SUMMIT_USER=bob sm t4a approve "$run4" --gate production --sign "$K/bob"
expect_rc 1 t4a "bob's approval with another run's start signature in place"
has "$T/t4a.err" "start signature of this run does not verify" "refused: the start does not verify"
forge_approval "$run4" "$key4" production bob "$T/msg4.sig"
sm t4b resume "$run4" --detach
expect_rc 3 t4b "the run with a forged start and a real approval row"
has "$T/t4b.out" "start signature of this run does not verify" "the run refuses it itself"
expect_status "$run4" suspended "run 4 still waits"

start_as t5 alice --sign "$K/alice"
run5=$RUN
state_sql "UPDATE runs SET started_by = 'bob' WHERE id = ?" "$run5"
SUMMIT_USER=alice sm t5a approve "$run5" --gate production --sign "$K/alice"
expect_rc 1 t5a "alice's approval once started_by says bob"
has "$T/t5a.err" "does not verify" "refused: the signature covers alice, not bob"

say "5. allow_self = true: an unsigned start is fine"
cat >"$W/self.lua" <<'EOF'
return runbook {
  name = "self",
  run = function()
    approval.require{ gate = "g", signed = true, allow_self = true }
  end,
}
EOF
SUMMIT_USER=alice sm s5 run "$W/self.lua" --detach
expect_rc 3 s5 "an unsigned start at a gate with allow_self"
run6=$(newest_run)
SUMMIT_USER=alice sm a5 approve "$run6" --gate g --sign "$K/alice"
expect_rc 0 a5 "its starter approves it"
sm r5 resume "$run6"
expect_rc 0 r5 "and the run goes on"
