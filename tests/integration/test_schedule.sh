#!/usr/bin/env bash
# Issue 8 / schedules fired by a real daemon:
#  - overlap: a schedule every 2 s of a run that takes 3 s skips the fires
#    that come while its previous run goes on (audit schedule.skipped,
#    reason overlap), never two runs at once;
#  - missed fires: with the schedules' next fire set an hour back (a daemon
#    down for an hour), missed = skip starts no run and waits for the next
#    fire, missed = run-once starts exactly one;
#  - a runbook that no longer loads counts as a failure in a row;
#  - pause / resume and list --json.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
W=$T/wd
cd "$W"

cat >slow.lua <<'EOF'
return runbook {
  name = "slow", version = "1.0.0",
  run = function()
    step("work", function()
      exec({ "sh", "-c", 'echo start >> trace; sleep 3; echo end >> trace' })
    end)
  end,
}
EOF
cat >quick.lua <<'EOF'
return runbook {
  name = "quick", version = "1.0.0",
  params = { tag = { type = "string", required = true } },
  run = function(p)
    step("mark", function()
      exec({ "sh", "-c", 'echo "$1" >> marks', "sh", p.tag })
    end)
  end,
}
EOF
cp quick.lua broken.lua

# runs_of SCHEDULE: how many runs it started (no command shows a run's
# schedule: state_sql).
runs_of() { state_sql "SELECT count(*) FROM runs WHERE schedule = '$1'"; }
skips() {
  "$SUMMIT" audit export 2>/dev/null | py 'import json,sys
n = 0
for l in sys.stdin:
    r = json.loads(l)
    if r["action"] == "schedule.skipped" and r["detail"]["schedule"] == sys.argv[1] \
       and r["detail"]["reason"] == sys.argv[2]:
        n += 1
print(n)' "$1" "$2"
}

say "overlap: a fire while the previous run goes on is skipped"
sm add schedule add slow --every 2s slow.lua
expect_rc 0 add "schedule add slow"
bg_start d1 daemon
D1=$BG_PID
two_skips() { (($(skips slow overlap) >= 2)); }
wait_until 30 "two overlap skips" two_skips
sm pause schedule pause slow
expect_rc 0 pause "pause it"
done_runs() { (($(state_sql "SELECT count(*) FROM runs WHERE schedule = 'slow' AND status != 'succeeded'") == 0)); }
wait_until 30 "its runs to end" done_runs
py 'import sys
lines = open(sys.argv[1]).read().split()
# start/end pairs strictly alternate: never two runs at once.
assert lines and len(lines) % 2 == 0, lines
for i, w in enumerate(lines):
    assert w == ("start" if i % 2 == 0 else "end"), lines' "$W/trace" ||
  die "runs overlapped: $(tr '\n' ' ' <trace)"
ok "never two runs of the schedule at once ($(runs_of slow) runs, $(skips slow overlap) skips)"
"$SUMMIT" audit export 2>/dev/null | grep '"schedule.skipped"' | head -n 1 >"$T/skip.json"
has "$T/skip.json" '"reason":"overlap"' "the skip names its reason"
has "$T/skip.json" '"run":"' "the skip names the run still going"
eq "$(schedule_field slow paused)" True "list: paused"
kill -TERM "$D1"
bg_wait "$D1"
eq "$RC" 0 "the daemon stops"

say "missed fires while no daemon ran: skip vs run-once"
sm a1 schedule add m-skip --every 15m quick.lua -p tag=skip
expect_rc 0 a1 "schedule add m-skip (missed = skip)"
sm a2 schedule add m-once --every 15m quick.lua -p tag=once --missed run-once
expect_rc 0 a2 "schedule add m-once (missed = run-once)"
sm a3 schedule add m-broken --every 15m broken.lua -p tag=broken --missed run-once
expect_rc 0 a3 "schedule add m-broken"
echo 'return {' >broken.lua   # it no longer loads
# As if no daemon had run for an hour: the next fire is an hour back (no
# command sets a fire time: state_sql).
hour_ago=$(( ($(now_ms) / 900000 - 4) * 900000 ))
state_sql "UPDATE schedules SET next_fire_ms = $hour_ago WHERE name LIKE 'm-%'" >/dev/null
bg_start d2 daemon
D2=$BG_PID
wait_until 30 "the run-once run" test -s marks
broken_noted() { [[ $(schedule_field m-broken consecutive_failures) == 1 ]]; }
wait_until 30 "the broken fire to count as a failure" broken_noted
sleep 1
eq "$(runs_of m-skip)" 0 "missed = skip: no run"
eq "$(skips m-skip missed)" 1 "missed = skip: one schedule.skipped (reason missed)"
eq "$(runs_of m-once)" 1 "missed = run-once: exactly one run"
eq "$(cat marks)" once "the run-once run did its effect once"
eq "$(schedule_field m-once last_run_status)" succeeded "list: the last run's status"
now=$(now_ms)
next=$(schedule_field m-skip next_fire | py 'import sys
from datetime import datetime, timezone
t = sys.stdin.read().strip()
d = datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
print(round(d.timestamp() * 1000))')
((next > now && next <= now + 900000)) || die "m-skip's next fire $next is not the next one after $now"
ok "missed = skip: the next fire is the next one after now"
eq "$(schedule_field m-broken last_status)" error "a runbook that no longer loads: status error"
has "$SUMMIT_STATE_DIR/daemon.log" "broken.lua" "the child's error is in daemon.log"
kill -TERM "$D2"
bg_wait "$D2"
eq "$RC" 0 "the daemon stops"

say "pause and resume"
sm p1 schedule pause m-once
expect_rc 0 p1 "pause"
eq "$(schedule_field m-once next_fire)" "" "a paused schedule shows no next fire"
sm p2 schedule resume m-once
expect_rc 0 p2 "resume"
[[ -n $(schedule_field m-once next_fire) ]] && ok "a resumed schedule has a next fire"
sm p3 schedule pause nosuch
expect_rc 2 p3 "pausing an unknown schedule"
has "$T/p3.err" "no schedule named 'nosuch'" "names it"

say "one run per fire, even when asked twice (the daemon's internal --fire)"
# The fire time of the run, in ms (no command shows it: state_sql).
fire=$(state_sql "SELECT fire_ms FROM runs WHERE schedule = 'm-once'")
sm dup run quick.lua -p tag=dup --fire "m-once@$fire"
expect_rc 5 dup "a second run for the same fire"
has "$T/dup.err" "already has a run" "says why"
eq "$(runs_of m-once)" 1 "still one run recorded for the schedule's fire"
sm badfire run quick.lua -p tag=dup --fire nonsense
expect_rc 2 badfire "a malformed --fire"
