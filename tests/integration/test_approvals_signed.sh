#!/usr/bin/env bash
# Issue 5 / signed approvals (docs/approvals.md): real ssh-keygen keys, an
# allowed_signers file named (relative) in summit.lua, gates with
# signed = true.
#
#  1. Refused: no signature; a key not in the allowed signers file; a valid
#     signature made for another run; a signature over other bound values
#     (the message edited from v1 to v2 and signed). Each is audited.
#  2. Accepted: --sign with alice's key (the identity is the key's principal,
#     whatever $SUMMIT_USER says); the run resumes and the result says
#     signed. --message + ssh-keygen elsewhere + --signature works too. A
#     live run verifies the signature itself and goes on.
#  3. The run checks signatures again: a decision row forged into the
#     database with a signature for another run does not release the gate.
#
# The gates forbid self-approval, so every run here is started signed by
# its starter (summit run --sign, as $SUMMIT_USER=tester); unsigned starts
# are test_approvals_start.sh's.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

command -v ssh-keygen >/dev/null || die "ssh-keygen is needed (openssh-client)"
W=$T/wd
K=$T/keys
ssh_keys "$K" alice bob mallory tester
mkdir -p "$W/conf"
for who in alice bob tester; do signer "$who" "$K/$who"; done >"$W/conf/allowed_signers"
cat >"$W/summit.lua" <<'EOF'
return {
  allowed_signers = "conf/allowed_signers",   -- relative to this file
  approvers = { alice = { "platform-lead" }, bob = { "platform-lead" } },
}
EOF
mkdir -p "$W/sub"
cd "$W/sub"   # summit.lua is found upward; the path stays relative to it
rb=$RUNBOOKS/approval_gate.lua

# start_signed NAME DIR ARGS...: a signed gate (count 1), suspended; sets RUN.
start_signed() {
  local name=$1 dir=$2
  shift 2
  mkdir -p "$dir"
  sm "$name" run "$rb" --detach --sign "$K/tester" -p dir="$dir" -p signed=true -p count=1 "$@"
  expect_rc 3 "$name" "$name: the run suspends at the signed gate"
  RUN=$(newest_run)
}

# sign KEY FILE: an SSH signature of FILE's text (namespace summit-approval).
sign() {
  ssh-keygen -q -Y sign -f "$1" -n summit-approval <"$2" >"$2.sig"
}

say "1. what a signed gate refuses"
start_signed s1 "$T/w1"
run1=$RUN
"$SUMMIT" runs --waiting --json >"$T/waiting1.json"
has "$T/waiting1.json" '"signed":true' "runs --waiting shows the gate is signed"

SUMMIT_USER=alice sm n1 approve "$run1" --gate production
expect_rc 1 n1 "an unsigned approval"
has "$T/n1.err" "takes signed decisions only" "refused: not signed"

SUMMIT_USER=mallory sm n2 approve "$run1" --gate production --sign "$K/mallory"
expect_rc 1 n2 "an approval signed by a key not in allowed_signers"
has "$T/n2.err" "not in the allowed signers file" "refused: unknown key"
has "$T/n2.err" "conf/allowed_signers" "naming the file"

start_signed s2 "$T/w2"
run2=$RUN
[[ $run1 != "$run2" ]] || die "two runs expected"
sm m2 approve "$run2" --gate production --message
expect_rc 0 m2 "--message prints the text to sign"
has "$T/m2.out" "run: $run2" "the message names the run"
has "$T/m2.out" 'bind: {"version":"v1"}' "the bound values"
has "$T/m2.out" "gate: production" "the gate"
has "$T/m2.out" "source-sha256: " "and the runbook's source hash"
cp "$T/m2.out" "$T/other-run.msg"
sign "$K/alice" "$T/other-run.msg"
SUMMIT_USER=alice sm n3 approve "$run1" --gate production --signature "$T/other-run.msg.sig"
expect_rc 1 n3 "alice's signature for another run"
has "$T/n3.err" "does not verify" "refused: the signature is not over this run's message"

sm m1 approve "$run1" --gate production --message
expect_rc 0 m1 "the message of run 1"
sed 's/"version":"v1"/"version":"v2"/' "$T/m1.out" >"$T/v2.msg"
grep -q '"version":"v2"' "$T/v2.msg" || die "could not edit the message"
sign "$K/alice" "$T/v2.msg"
SUMMIT_USER=alice sm n4 approve "$run1" --gate production --signature "$T/v2.msg.sig"
expect_rc 1 n4 "alice's signature over other bound values (v2)"
has "$T/n4.err" "does not verify" "refused: the signature does not cover v1"
eq "$(audit_count "$run1" approval.refused)" 4 "the four refusals are audited"
expect_status "$run1" suspended "run 1 still waits"

say "2. valid signatures pass"
SUMMIT_USER=someone sm y1 approve "$run1" --gate production --sign "$K/alice" --comment "signed off"
expect_rc 0 y1 "alice approves with --sign"
has "$T/y1.err" "signed by alice" "the identity is the key's principal"
has "$T/y1.out" "as alice: the gate is released" "the signed approval releases the gate"
sm y2 resume "$run1" --json
expect_rc 0 y2 "run 1 resumes"
expect_status "$run1" succeeded "run 1"
eq "$(cat "$T/w1/trace")" "deploy v1
promote v1 approved by alice" "promoted after alice's signed approval"
eq "$(audit_count "$run1" approval.given '"signed":true')" 1 "approval.given says signed"

# Signing elsewhere: the message of run 2, signed by bob with ssh-keygen.
cp "$T/m2.out" "$T/run2.msg"
sign "$K/bob" "$T/run2.msg"
SUMMIT_USER=bob sm y3 approve "$run2" --gate production --signature "$T/run2.msg.sig"
expect_rc 0 y3 "bob approves run 2 with a signature made elsewhere"
sm y4 resume "$run2"
expect_rc 0 y4 "run 2 resumes"
expect_status "$run2" succeeded "run 2"

# A live run checks the signature itself (ssh-keygen on its loop) and goes on.
mkdir -p "$T/w4"
bg_run live run "$rb" --sign "$K/tester" -p dir="$T/w4" -p signed=true -p count=1
pid=$BG_PID
run4=$NEW_RUN
wait_until 30 "the live run's gate to open" grep -q "approve with" "$T/live.out"
SUMMIT_USER=alice sm y5 approve "$run4" --gate production --sign "$K/alice"
expect_rc 0 y5 "alice approves the live run with --sign"
bg_wait "$pid"
[[ $RC -eq 0 ]] || { show live; die "the live run exited $RC after a signed approval"; }
ok "the live run verified the signature and finished: exit 0"

say "3. the run checks signatures again"
start_signed s3 "$T/w3"
run3=$RUN
key3=$(waiting "$run3" key)
# A forged row: alice's valid signature, but for run 2's message.
forge_approval "$run3" "$key3" production alice "$T/other-run.msg.sig"
sm f1 resume "$run3" --detach
expect_rc 3 f1 "a forged decision row does not release the gate"
has "$T/f1.out" "does not verify" "the run says the signature does not verify"
expect_status "$run3" suspended "run 3 still waits"
eq "$(audit_count "$run3" approval.refused '"by":"run"')" 1 "the run's refusal is audited"
SUMMIT_USER=bob sm f2 approve "$run3" --gate production --sign "$K/bob"
expect_rc 0 f2 "bob signs for run 3"
sm f3 resume "$run3" --json
expect_rc 0 f3 "run 3 resumes"
has "$T/f3.out" '"status":"succeeded"' "and succeeds"
eq "$(tail -n 1 "$T/w3/trace")" "promote v1 approved by bob" "released by bob's real signature alone"

