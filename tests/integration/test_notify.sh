#!/usr/bin/env bash
# Issue 8 / notifications (docs/notifications.md), against a real local
# webhook receiver (webhook_server.py records every request it gets).
#
#  1. notify() from a runbook: the default channel gets Slack-format JSON
#     (text, blocks with the message, the fields and the run), a generic
#     channel gets the documented payload; a webhook answering 500 is
#     tried 1 + retries times, one refusing connections and one answering
#     404 (not retried) are given up on: all logged, journaled as failed
#     entries (ENOTIFY), audited as notify.failed, and the run succeeds.
#  2. A run that fails sends run.failed (run id, error, resume command) to
#     both rule channels; resumed and failing again, it notifies again;
#     the notifications already sent before are replayed, not re-sent.
#  3. An approval gate: approval.requested carries the exact approve
#     command; resuming the suspended run does not send it again; the run's
#     success goes to the channel of the run.succeeded rule.
#  4. SIGKILL after a notification: the resumed run does not send it again;
#     SIGKILL while a notification is in flight: it is sent again (attempt
#     2, "recovered"), as documented; the same for the run.failed
#     notifications at the end of a run (the ones delivered are not resent).
#  5. A schedule run by the daemon fails 4 times: schedule.failing with
#     after = 2 is sent once, by the run that made the streak 2.
#  6. The webhook URLs (their token) never appear in the state database,
#     the events or the logs.
#  7. Bad configuration and misuse of notify(): exit 2 naming summit.lua's
#     line; a bad argument raises naming it.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

W=$T/wd
cd "$W"
HOOKS=$T/hooks.jsonl
: >"$HOOKS"
python3 "$HERE/webhook_server.py" "$T/port" "$HOOKS" &
BG_PIDS+=("$!")   # killed (by pid) before lib.sh's cleanup waits
wait_until 20 "the webhook receiver to listen" test -s "$T/port"
PORT=$(<"$T/port")
H=http://127.0.0.1:$PORT
TOKEN=XOXB-SECRET-9f8e7d
DB=$SUMMIT_STATE_DIR/state.db

cat >"$W/summit.lua" <<EOF
return {
  environments = { staging = {} },
  notifications = {
    channels = {
      slack   = { url = "$H/ok/T01/B02/$TOKEN" },
      generic = { url_env = "GENERIC_HOOK", format = "generic",
                  headers = { ["X-Team"] = "platform" } },
      down    = { url = "$H/fail/$TOKEN", retries = 2, backoff = "50ms" },
      refused = { url = "http://127.0.0.1:1/hook/$TOKEN", retries = 1, backoff = "50ms" },
      gone    = { url = "$H/gone/$TOKEN", retries = 3, backoff = "50ms" },
      slow    = { url = "$H/slow/4/$TOKEN", retries = 0 },
    },
    default = "slack",
    rules = {
      { on = "run.failed", channel = { "slack", "generic" } },
      { on = "approval.requested" },
      { on = "run.succeeded", channel = "generic", runbook = "notify-gate" },
      { on = "run.finished", channel = "generic", env = "production" },
      { on = "run.failed", channel = "slow", runbook = "notify-kill" },
    },
  },
}
EOF
export GENERIC_HOOK=$H/ok/generic/$TOKEN

# hooks PATH-PREFIX: how many requests reached paths starting with it.
hooks() {
  py 'import json,sys
n = 0
for l in open(sys.argv[1]):
    if json.loads(l)["path"].startswith(sys.argv[2]):
        n += 1
print(n)' "$HOOKS" "$1"
}

# check_body PREFIX N PYTHON-EXPR WHAT: EXPR over b (the decoded body of
# the Nth request to a path starting with PREFIX) and r (the request) is
# true.
check_body() {
  if ! py 'import json,sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
reqs = [r for r in reqs if r["path"].startswith(sys.argv[2])]
r = reqs[int(sys.argv[3]) - 1]
b = json.loads(r["body"])
sys.exit(0 if eval(sys.argv[4]) else 1)' "$HOOKS" "$1" "$2" "$3"; then
    grep -F "\"$1" "$HOOKS" >&2 || true
    die "$4"
  fi
  ok "$4"
}

say "1. notify() from a runbook: Slack and generic payloads; dead webhooks do not fail the run"
sm basic run "$RUNBOOKS/notify_basic.lua" -p dir="$W" --env staging
expect_rc 0 basic "a run whose webhooks are partly down succeeds"
RUN=$(newest_run)
eq "$(hooks /ok/T01/B02/)" 1 "the default channel got one request"
eq "$(hooks /ok/generic/)" 1 "the generic channel got one request"
eq "$(hooks /fail/)" 3 "the webhook answering 500 was tried 1 + 2 retries times"
eq "$(hooks /gone/)" 1 "the webhook answering 404 was not tried again"
check_body /ok/T01 1 'b["text"] == "deploying <web> v2 & more"' "slack: text is the message"
check_body /ok/T01 1 '"deploying &lt;web&gt; v2 &amp; more" in b["blocks"][0]["text"]["text"]' \
  "slack: the section block holds the message, escaped for mrkdwn"
check_body /ok/T01 1 '{"type": "mrkdwn", "text": "*version*\nv2"} in b["blocks"][1]["fields"]' \
  "slack: the fields are a fields section"
check_body /ok/T01 1 "'run \`$RUN\`' in b['blocks'][-1]['elements'][0]['text']" \
  "slack: the context block names the run"
check_body /ok/T01 1 "'runbook \`notify-basic 1.2.0\`' in b['blocks'][-1]['elements'][0]['text']" \
  "slack: the context block names the runbook and its version"
check_body /ok/T01 1 'r["headers"]["content-type"] == "application/json"' "sent as application/json"
check_body /ok/generic 1 "b['event'] == 'notify' and b['run'] == '$RUN' and b['runbook'] == 'notify-basic'" \
  "generic: event, run and runbook"
check_body /ok/generic 1 'b["message"] == "canary looks fine" and b["level"] == "warn"' "generic: message and level"
check_body /ok/generic 1 'b["fields"] == {"error_rate": 0.01} and b["channel"] == "generic"' "generic: fields and channel"
check_body /ok/generic 1 'b["env"] == "staging" and b["started_by"] == "tester" and b["version"] == "1.2.0"' \
  "generic: env, user and version"
check_body /ok/generic 1 'b["ts"].endswith("Z") and "T" in b["ts"]' "generic: an RFC 3339 time"
check_body /ok/generic 1 'r["headers"].get("x-team") == "platform"' "the channel's headers are sent"
py 'import json,sys
r = json.load(open(sys.argv[1]))
assert r["default"]["delivered"] is True and r["default"]["status"] == 200, r
assert r["default"]["channel"] == "slack", r
assert r["down"]["delivered"] is False and "after 3 tries" in r["down"]["error"], r
assert r["refused"]["delivered"] is False and "after 2 tries" in r["refused"]["error"], r
assert r["gone"]["delivered"] is False and "404" in r["gone"]["error"], r' "$W/results.json" ||
  die "notify() returns what happened: $(cat "$W/results.json")"
ok "notify() returns delivered/status/tries, or delivered = false and why"
has "$T/basic.out" "notification notify to channel 'down' was not delivered after 3 tries: the webhook answered 500" \
  "the undelivered notification is logged as a warning"
has "$T/basic.out" "channel 'refused' was not delivered after 2 tries" "connection refused is logged too"
has "$T/basic.out" "notification to channel 'down' failed" "the retries are shown"
eq "$(entry_field "$RUN" 3 state)" failed "the down channel's entry is failed in the journal"
eq "$(entry_field "$RUN" 3 kind)" notify "the entry is of kind notify"
eq "$(entry_field "$RUN" 1 state)" completed "a delivered notification's entry is completed"
sm aud audit export --run "$RUN"
expect_rc 0 aud "audit export"
eq "$(grep -c '"action":"notify.failed"' "$T/aud.out")" 3 "three notify.failed audit records"
has "$T/aud.out" '"code":"ENOTIFY"' "the audit record carries ENOTIFY"
eq "$(grep -c '"action":"notify.completed"' "$T/aud.out")" 2 "two notify.completed audit records"

say "2. a failed run notifies run.failed; resumed and failing again, it notifies again"
: >"$HOOKS"
sm failrun run "$RUNBOOKS/notify_basic.lua" -p dir="$W" -p fail=true --json
expect_rc 1 failrun "the failing run exits 1"
FRUN=$(newest_run)
eq "$(hooks /ok/T01/B02/)" 2 "slack: the notify() and the run.failed notification"
eq "$(hooks /ok/generic/)" 2 "generic: the notify() and the run.failed notification"
check_body /ok/T01 2 'b["text"].startswith("runbook notify-basic failed")' "slack: run.failed text"
check_body /ok/T01 2 "'EFAIL: the smoke test found 3 errors' in b['blocks'][0]['text']['text']" \
  "slack: the error is in the message block"
check_body /ok/T01 2 "'\`summit resume $FRUN\`' in b['blocks'][0]['text']['text']" \
  "slack: the command to resume is in the message block"
check_body /ok/generic 2 "b['event'] == 'run.failed' and b['status'] == 'failed' and b['run'] == '$FRUN'" \
  "generic: run.failed with the status and the run id"
check_body /ok/generic 2 'b["error"] == {"code": "EFAIL", "message": "the smoke test found 3 errors"}' \
  "generic: the error's code and message"
check_body /ok/generic 2 "b['command'] == 'summit resume $FRUN' and b['key'] == '7'" \
  "generic: the key that failed and the command to resume"
has "$T/failrun.out" '"event":"notify.sent"' "the --json stream has notify.sent events"
: >"$HOOKS"
sm failrun2 resume "$FRUN"
expect_rc 1 failrun2 "the resumed run fails again"
eq "$(hooks /fail/)" 0 "the resumed run does not try the undelivered notifications again"
eq "$(hooks /ok/T01/B02/)" 1 "slack: only the new run.failed notification"
eq "$(hooks /ok/generic/)" 1 "generic: only the new run.failed notification"
check_body /ok/generic 1 "b['event'] == 'run.failed' and b['run'] == '$FRUN'" "generic: run.failed again"

say "3. an approval gate: approval.requested with the approve command, sent once"
: >"$HOOKS"
sm gate run "$RUNBOOKS/notify_gate.lua" --detach
expect_rc 3 gate "the run suspends at the gate"
GRUN=$(newest_run)
eq "$(hooks /ok/T01/B02/)" 1 "the default channel got approval.requested"
check_body /ok/T01 1 "'\`summit approve $GRUN --gate production\`' in b['blocks'][0]['text']['text']" \
  "slack: the exact approve command"
check_body /ok/T01 1 "'summit approve $GRUN --gate production' in b['text']" \
  "slack: the fallback text carries the command too"
check_body /ok/T01 1 "\"gate 'production'\" in b['text'] and 'needs' in b['text']" \
  "slack: the gate and what it needs"
SUMMIT_USER=alice sm approve approve "$GRUN" --gate production
expect_rc 0 approve "alice approves"
sm gate2 resume "$GRUN"
expect_rc 0 gate2 "the resumed run passes the gate and succeeds"
eq "$(hooks /ok/T01/B02/)" 1 "approval.requested was not sent again"
eq "$(hooks /ok/generic/)" 1 "the run.succeeded rule (runbook notify-gate) sent one"
check_body /ok/generic 1 "b['event'] == 'run.succeeded' and b['status'] == 'succeeded' and b['run'] == '$GRUN'" \
  "generic: run.succeeded"
: >"$HOOKS"
sm gate3 run "$RUNBOOKS/notify_gate.lua" --detach --env production
expect_rc 2 gate3 "an unknown environment is refused before anything is sent"
eq "$(hooks /)" 0 "nothing was sent for it"

say "4. SIGKILL: a sent notification is not sent again; one in flight is"
: >"$HOOKS"
rm -f "$W/waiting" "$W/go"
bg_start kill1 run "$RUNBOOKS/notify_kill.lua" -p dir="$W"
wait_until 30 "the run to wait for go" test -f "$W/waiting"
kill -9 "$BG_PID"
bg_wait "$BG_PID"
eq "$RC" 137 "the run was SIGKILLed"
KRUN=$(newest_run)
eq "$(hooks /ok/T01/B02/)" 1 "the first notification had been sent"
touch "$W/go"
sm kill1r resume "$KRUN"
expect_rc 0 kill1r "the resumed run succeeds"
eq "$(hooks /ok/T01/B02/)" 2 "only the second notification was added"
check_body /ok/T01 1 'b["text"] == "before the kill"' "the first is 'before the kill'"
check_body /ok/T01 2 'b["text"] == "after the kill"' "the second is 'after the kill'"
: >"$HOOKS"
rm -f "$W/waiting" "$W/go"
touch "$W/go"
bg_start kill2 run "$RUNBOOKS/notify_kill.lua" -p dir="$W" -p slow=true
wait_until 30 "the slow notification to arrive" grep -q /slow/ "$HOOKS"
kill -9 "$BG_PID"
bg_wait "$BG_PID"
eq "$RC" 137 "the run was SIGKILLed while the slow notification was in flight"
SRUN=$(newest_run)
sm kill2r resume "$SRUN"
expect_rc 0 kill2r "the resumed run succeeds"
eq "$(hooks /slow/)" 2 "the notification in flight at the kill was sent again"
eq "$(hooks /ok/T01/B02/)" 2 "the others were sent once each"
has "$T/kill2r.out" "was in flight at a crash: attempt 2" "the recovery is shown"
: >"$HOOKS"
bg_start kill3 run "$RUNBOOKS/notify_kill.lua" -p dir="$W" -p fail=true
wait_until 30 "the run.failed notification to the slow channel" grep -q /slow/ "$HOOKS"
kill -9 "$BG_PID"
bg_wait "$BG_PID"
eq "$RC" 137 "the failing run was SIGKILLed while its last run.failed notification was in flight"
FKRUN=$(newest_run)
eq "$(hooks /ok/generic/)" 1 "generic had got run.failed before the kill"
sm kill3r resume "$FKRUN"
expect_rc 1 kill3r "the resumed run fails again (its failure replayed)"
eq "$(hooks /ok/generic/)" 1 "generic: run.failed was not sent again"
eq "$(hooks /ok/T01/B02/)" 3 "slack: before, after and run.failed, once each"
eq "$(hooks /slow/)" 2 "the slow channel's run.failed, in flight at the kill, was sent again"
check_body /slow/ 2 "b['text'].startswith('runbook notify-kill failed') and '$FKRUN' in b['text']" \
  "it is the same run.failed"

say "5. schedule.failing: the runs of a schedule failing 'after' times in a row, once per streak"
mkdir -p "$T/sched" && cd "$T/sched"
cat >summit.lua <<EOF
return {
  notifications = {
    channels = { oncall = { url = "$H/ok/oncall/$TOKEN", format = "generic" } },
    rules = { { on = "schedule.failing", channel = "oncall", after = 2 } },
  },
}
EOF
cp "$RUNBOOKS/notify_probe.lua" probe.lua
: >"$HOOKS"
sm sadd schedule add probe --every 1s probe.lua
expect_rc 0 sadd "schedule add"
bg_start daemon daemon --poll 100ms
DPID=$BG_PID
failed_runs() {
  "$SUMMIT" runs --json | py 'import json,sys
runs = [json.loads(l) for l in sys.stdin]
print(sum(1 for r in runs if r["status"] == "failed" and r["runbook"] == "notify-probe"))'
}
four_failed() { [[ $(failed_runs) -ge 4 ]]; }
wait_until 60 "four failed runs of the schedule" four_failed
kill -TERM "$DPID"
bg_wait "$DPID"
eq "$(hooks /ok/oncall/)" 1 "one schedule.failing notification for a streak of 4 (after = 2)"
check_body /ok/oncall 1 'b["event"] == "schedule.failing" and b["schedule"] == "probe" and b["failures"] == 2' \
  "generic: event, schedule and failures"
check_body /ok/oncall 1 'b["error"]["code"] == "EFAIL" and "service down" in b["error"]["message"]' \
  "generic: the failing run's error"
check_body /ok/oncall 1 "b['message'].startswith(\"schedule 'probe' failed 2 times in a row\")" \
  "generic: the message"
SECOND=$("$SUMMIT" runs --json | py 'import json,sys
runs = [json.loads(l) for l in sys.stdin if json.loads(l)["runbook"] == "notify-probe"]
print(runs[-2]["run"])')
check_body /ok/oncall 1 "b['run'] == '$SECOND' and b['runbook'] == 'notify-probe'" \
  "sent by the second run, whose failure made the streak 2"
cd "$W"

say "6. the webhook URLs never reach the state database, the events or the logs"
if command -v sqlite3 >/dev/null; then
  sqlite3 "$DB" .dump >"$T/dump.sql"
  [[ -s $T/dump.sql ]] || die "empty dump"
  hasnt "$T/dump.sql" "$TOKEN" "the token is nowhere in the state database"
  hasnt "$T/dump.sql" "/ok/T01/B02" "nor the webhook's path"
  has "$T/dump.sql" '"channel":"slack"' "the journal names the channel"
else
  hasnt "$DB" "$TOKEN" "the token is nowhere in the state database file"
fi
for f in "$T"/*.out "$T"/*.err; do
  hasnt "$f" "$TOKEN" "no token in $(basename "$f")"
done
for r in "$RUN" "$FRUN" "$GRUN" "$KRUN" "$SRUN"; do
  "$SUMMIT" log "$r" --json >"$T/log-$r.json"
  hasnt "$T/log-$r.json" "$TOKEN" "no token in summit log $r"
done

say "7. bad configuration and misuse"
mkdir -p "$T/bad" && cd "$T/bad"
cat >summit.lua <<'EOF'
return {
  notifications = {
    channels = {
      ops = { url = "https://hooks.example/x",
              format = "teams" },
    },
    rules = {
      { on = "run.exploded", channel = "ops" },
    },
  },
}
EOF
sm badcfg run "$RUNBOOKS/notify_gate.lua"
expect_rc 2 badcfg "a bad notifications table is refused"
has "$T/badcfg.err" "summit.lua:5:" "the format's line"
has "$T/badcfg.err" 'notifications.channels.ops.format must be "slack" or "generic", not "teams"' \
  "names the bad format"
has "$T/badcfg.err" "unknown event 'run.exploded'" "names the unknown event"
cat >summit.lua <<'EOF'
return {
  notifications = {
    channels = { ops = { format = "generic" } },
    rules = { { on = "run.failed" } },
  },
}
EOF
sm badcfg2 validate "$RUNBOOKS/notify_gate.lua"
expect_rc 2 badcfg2 "a channel without a URL is refused"
has "$T/badcfg2.err" "needs url (the webhook URL) or url_env" "says what the channel lacks"
has "$T/badcfg2.err" "there is no notifications.default" "a rule without a channel and no default"
cd "$W"
for c in channel message level option; do
  sm "bad_$c" run "$RUNBOOKS/notify_bad.lua" -p case=$c
  expect_rc 1 "bad_$c" "notify() misuse ($c) fails the run"
done
has "$T/bad_channel.out" "notify: bad argument 'channel' ('nowhere' is not in summit.lua's notifications.channels" \
  "an unknown channel is named"
has "$T/bad_channel.out" "notify_bad.lua:7:" "at the runbook's line"
has "$T/bad_message.out" "notify: bad argument 'message'" "a message that is not a string"
has "$T/bad_level.out" "notify: bad argument 'level'" "an unknown level"
has "$T/bad_option.out" "notify: bad argument 'chanel' (unknown option" "a misspelt option"
