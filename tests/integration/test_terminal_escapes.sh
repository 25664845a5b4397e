#!/usr/bin/env bash
# Human output never passes terminal control characters from a runbook or a
# param through (issue 12, docs/cli.md "Human output"). A gate reason built
# from a param could erase the real `for:` line (ESC[2K, \r), retitle the
# window (ESC]0;...BEL), use the one-byte C1 CSI or reorder the line (U+202E)
# in front of an approver. The param here flows into a step name, a log
# line, a gate's reason and a failure: the output of run, runs --waiting,
# status, log, approve and audit show holds none of those raw characters,
# shows them as visible escapes, and keeps printable UTF-8 and <script> as
# they are. The --json forms carry the exact value (escaped by cJSON).
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
RB=$RUNBOOKS/hostile_text.lua

ESC=$'\e'
MSG="v2${ESC}[2K"$'\r'"  for:    {\"version\":\"v0\"}${ESC}]0;owned"$'\a'"<script>x</script>"$'\x7f\xc2\x9b\xe2\x80\xae'"é✓"

# clean NAME WHAT [raw-only]: the file NAME has no raw ESC, CR, BEL, DEL,
# C1 CSI or RLO, and (unless raw-only) shows the escapes instead.
clean() {
  local f=$T/$1 what=$2
  py 'import sys
b = open(sys.argv[1], "rb").read()
bad = [n for n, c in (("ESC", b"\x1b"), ("CR", b"\r"), ("BEL", b"\x07"), ("DEL", b"\x7f"),
                       ("C1 CSI", b"\xc2\x9b"), ("U+202E", b"\xe2\x80\xae")) if c in b]
sys.exit("raw " + ", ".join(bad) if bad else 0)' "$f" || { show_file "$f"; die "$what: raw control characters"; }
  ok "$what: no raw control characters"
  [[ ${3:-} == raw-only ]] && return
  has "$f" '\x1b[2K\r' "$what: ESC[2K and CR shown as \\x1b[2K\\r"
  has "$f" '\x1b]0;owned\x07<script>x</script>\x7f\u009b\u202eé✓' \
    "$what: OSC, BEL, DEL, C1 and RLO shown; <script> and UTF-8 kept"
}
show_file() { echo "---- $1 ----" >&2; cat -A "$1" >&2 || true; }

say "run: a step, a log line and a gate built from the param"
sm run run "$RB" -p "msg=$MSG" --detach
expect_rc 3 run "suspended at the gate"
run=$(newest_run)
cat "$T/run.out" "$T/run.err" >"$T/run.all"
clean run.all "summit run"
has "$T/run.all" "reason: ship v2" "the reason is shown"

say "runs --waiting, status, log"
sm waiting runs --waiting
clean waiting.out "summit runs --waiting"
has "$T/waiting.out" 'for:    {"version":"v1"}' "the real for: line is there"
sm status status "$run"
clean status.out "summit status"
sm log log "$run"
clean log.out "summit log"

say "the --json forms keep the exact value"
"$SUMMIT" status "$run" --json >"$T/status.json"
py 'import json,sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
w = [w for w in d["waits"] if w.get("gate")][0]
sys.exit(0 if w["reason"] == "ship " + sys.argv[2] else "reason: %r" % w["reason"])' "$T/status.json" "$MSG" ||
  die "status --json does not carry the exact reason"
ok "status --json carries the exact reason"
if grep -q "$ESC" "$T/status.json"; then die "raw ESC in status --json"; fi
ok "status --json has no raw ESC (cJSON escapes it)"

say "approve, resume to a failure, audit show"
SUMMIT_USER=alice sm approve approve "$run" --gate production
expect_rc 0 approve "the approval"
sm fail resume "$run"
expect_rc 0 fail "the run finishes"
"$SUMMIT" audit show "$run" >"$T/audit.out"
# Audit details are JSON text (control characters as \u001b); DEL, C1 and
# RLO, which JSON leaves alone, are escaped too.
clean audit.out "summit audit show" raw-only

sm run2 run "$RB" -p "msg=$MSG" -p fail=true --detach
expect_rc 3 run2 "a second run suspends"
run2=$(newest_run)
SUMMIT_USER=alice "$SUMMIT" approve "$run2" --gate production >/dev/null
sm fail2 resume "$run2"
expect_rc 1 fail2 "the second run fails with the param in its message"
cat "$T/fail2.out" "$T/fail2.err" >"$T/fail2.all"
clean fail2.all "a failure message"
sm status2 status "$run2"
clean status2.out "summit status of the failed run"

say "summit runbooks: names and descriptions from runbook files"
mkdir -p "$T/wd/rb"
cat >"$T/wd/summit.lua" <<'LUA'
return { runbooks = { "rb" } }
LUA
cat >"$T/wd/rb/evil.lua" <<'LUA'
return runbook {
  name = "evil", version = "1.0.0",
  description = "safe\27[2K\rdeploy to production\27]0;owned\7",
  run = function() end,
}
LUA
(cd "$T/wd" && "$SUMMIT" runbooks >"$T/runbooks.out" 2>"$T/runbooks.err") || die "summit runbooks failed"
clean runbooks.out "summit runbooks" raw-only
has "$T/runbooks.out" 'safe\x1b[2K\rdeploy to production\x1b]0;owned\x07' "the description is shown escaped"
