#!/usr/bin/env bash
# Signed approvals (docs/approvals.md, "Principals"), issue 12: an
# allowed_signers entry whose principal is a pattern ("*", "*@example.com")
# matches any name, so it must not become the identity of a decision. It
# used to: mallory's key listed as "*" approved as "*". Now such a signature
# is refused (exit 1, naming the pattern), nothing is recorded, and a key
# listed by name still works. A decision row with a pattern as its actor,
# forged into the database, does not release the gate either. Real
# ssh-keygen keys throughout.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

command -v ssh-keygen >/dev/null || die "ssh-keygen is needed (openssh-client)"
W=$T/wd
K=$T/keys
mkdir -p "$W"
ssh_keys "$K" alice mallory carol tester
{
  signer alice "$K/alice"
  signer tester "$K/tester"
  signer '*' "$K/mallory"
  signer '*@example.com,!root@example.com' "$K/carol"
} >"$W/allowed_signers"
cat >"$W/summit.lua" <<'LUA'
return { allowed_signers = "allowed_signers" }
LUA
cd "$W"
rb=$RUNBOOKS/approval_gate.lua
# decisions RUN: the actors of RUN's decision rows, comma-separated (no
# command lists a recorded decision that does not count).
decisions() {
  state_sql "SELECT actor FROM approvals WHERE run_id = ? ORDER BY rowid" "$1" | paste -sd, -
}

mkdir -p "$T/w1"
# A signed gate that forbids self-approval needs a signed start (tester's).
sm s1 run "$rb" --detach --sign "$K/tester" -p dir="$T/w1" -p signed=true -p count=1
expect_rc 3 s1 "the run suspends at the signed gate"
run=$(newest_run)

say "a key listed under the principal '*'"
SUMMIT_USER=mallory sm star approve "$run" --gate production --sign "$K/mallory"
expect_rc 1 star "an approval signed by the key listed as '*'"
has "$T/star.err" "only the pattern '*'" "refused, naming the pattern"
eq "$(decisions "$run")" "" "no decision was recorded"

say "a key listed under '*@example.com,!root@example.com'"
SUMMIT_USER=carol@example.com sm dom approve "$run" --gate production --sign "$K/carol"
expect_rc 1 dom "an approval signed by a key listed under a domain pattern"
has "$T/dom.err" "only the pattern '*@example.com'" "refused, naming the pattern"
eq "$(decisions "$run")" "" "still no decision recorded"
expect_status "$run" suspended "the run still waits"

say "a forged decision whose actor is '*'"
key=$(waiting "$run" key)
sm msg approve "$run" --gate production --message
expect_rc 0 msg "--message prints the text to sign"
ssh-keygen -q -Y sign -f "$K/mallory" -n summit-approval <"$T/msg.out" >"$T/msg.sig"
forge_approval "$run" "$key" production '*' "$T/msg.sig"
sm forged resume "$run" --detach
expect_rc 3 forged "a forged '*' decision with a valid signature does not release the gate"
has "$T/forged.out" "pattern" "the run says the actor is a pattern"

say "a key listed by name"
SUMMIT_USER=someone sm named approve "$run" --gate production --sign "$K/alice"
expect_rc 0 named "alice approves with her key"
has "$T/named.out" "as alice" "recorded as alice"
sm done resume "$run"
expect_rc 0 done "the run resumes"
eq "$(tail -n 1 "$T/w1/trace")" "promote v1 approved by alice" "released by alice alone"
