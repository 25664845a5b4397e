#!/usr/bin/env bash
# Issue 8 / summit daemon, with real processes and a real state database:
#  A. a schedule every 2 s of a small verification runbook fires several
#     times, one run per fire, and `schedule list` shows its last run;
#  B. a run suspended on a sleep (--detach) is resumed by the daemon after
#     its wake time;
#  C. an approval given with `summit approve` while only the daemon runs
#     releases the suspended run;
#  D. the daemon SIGKILLed and restarted loses no run and fires nothing
#     twice (runs counted per fire time; every schedule.fired has its run);
#  E. two daemons on one state directory: still one run per fire, and a
#     sleeping run both could resume is resumed once;
#  F. a run whose process died is picked up; SIGTERM stops the daemon
#     gracefully (exit 0), the run it was executing is left interrupted and
#     resumable, and the next daemon finishes it.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
W=$T/wd
cd "$W"

cat >verify.lua <<'EOF'
-- What a scheduled verification does: one effect per run.
return runbook {
  name = "verify", version = "1.0.0",
  params = { tag = { type = "string", default = "none" } },
  run = function(p)
    step("check", function()
      exec({ "sh", "-c", 'echo "$1" >> hits', "sh", p.tag })
    end)
  end,
}
EOF
cat >slow.lua <<'EOF'
-- A step that takes a while, then a mark.
return runbook {
  name = "slow", version = "1.0.0",
  params = { secs = { type = "string", default = "3" } },
  run = function(p)
    step("work", function()
      exec({ "sh", "-c", 'echo $$ > pids/slow; sleep "$1"', "sh", p.secs })
    end)
    step("mark", function()
      exec({ "sh", "-c", "echo done >> slow.done" })
    end)
  end,
}
EOF
mkdir -p pids

# newest_of RUNBOOK: the newest run of that runbook (scheduled runs start
# all the time, so "the newest run" would not do).
newest_of() {
  { "$SUMMIT" runs --json 2>/dev/null || true; } | py 'import json,sys
for l in sys.stdin:
    r = json.loads(l)
    if r["runbook"] == sys.argv[1]:
        print(r["run"])
        break' "$1"
}
# (no command shows which schedule started a run: state_sql)
fired_runs() { state_sql "SELECT count(*) FROM runs WHERE schedule = 'verify'"; }
# Fire times with more than one run (must be none).
dup_fires() {
  state_sql "SELECT fire_ms, count(*) FROM runs WHERE schedule IS NOT NULL
      GROUP BY schedule, fire_ms HAVING count(*) > 1"
}
fired_at_least() { (($(fired_runs) >= $1)); }
status_is() { [[ $(run_status "$1") == "$2" ]]; }

say "schedule add: bad input is refused with the field and token"
sm bad1 schedule add nightly --cron "61 * * * *" verify.lua
expect_rc 2 bad1 "a minute of 61"
has "$T/bad1.err" "minute field: '61' is out of range 0-59" "the field and token are named"
sm bad2 schedule add nightly --cron "0 3 * * fri-xyz" verify.lua
expect_rc 2 bad2 "a bad day name"
has "$T/bad2.err" "day-of-week field: 'fri-xyz'" "the day-of-week token is named"
sm bad3 schedule add nightly --cron "0 3 * * *" --tz Mars/Olympus verify.lua
expect_rc 2 bad3 "an unknown zone"
has "$T/bad3.err" "unknown time zone 'Mars/Olympus'" "the zone is named"
sm bad4 schedule add nightly --every 2s missing.lua
expect_rc 2 bad4 "a runbook that does not exist"
sm bad5 schedule add nightly --every 2s --cron "* * * * *" verify.lua
expect_rc 2 bad5 "--every and --cron together"

say "A: a schedule every 2 s fires several times"
sm add schedule add verify --every 2s verify.lua -p tag=tick
expect_rc 0 add "schedule add"
sm add2 schedule add verify --every 2s verify.lua
expect_rc 2 add2 "the same name twice"
sm nightly schedule add nightly --cron "30 2 * * *" --tz Europe/Berlin verify.lua
expect_rc 0 nightly "a nightly schedule in Berlin"
sm pause schedule pause nightly
expect_rc 0 pause "schedule pause"
bg_start d1 daemon
D1=$BG_PID
wait_until 30 "3 scheduled runs" fired_at_least 3
eq "$(dup_fires)" "" "one run per fire time"
sm list schedule list --json
has "$T/list.out" '"schedule":"verify"' "list --json shows the schedule"
py 'import json,sys
for l in open(sys.argv[1]):
    s = json.loads(l)
    if s["schedule"] == "verify":
        assert s["last_run"] and s["next_fire"] and s["last_fire"], s
        assert s["params"] == {"tag": "tick"}, s
    if s["schedule"] == "nightly":
        assert s["paused"] is True and "next_fire" not in s, s
        assert s["tz"] == "Europe/Berlin" and s["cron"] == "30 2 * * *", s' "$T/list.out" ||
  die "schedule list --json: $(cat "$T/list.out")"
ok "list shows last run, last and next fire; the paused one has no next fire"
grep -q tick hits && ok "the runs did their effect with the schedule's params"

say "B: a run suspended on a sleep is resumed by the daemon after it"
sm sleep run "$RUNBOOKS/sleep.lua" -p dir="$W" -p d=2s --detach
expect_rc 3 sleep "the sleep suspends the run (--detach)"
runB=$(newest_of sleep-resume)
eq "$(lines "$W/count.after")" 0 "nothing after the sleep yet"
wait_until 30 "the daemon to finish the sleeping run" status_is "$runB" succeeded
eq "$(lines "$W/count.before")" 1 "the step before the sleep ran once"
eq "$(lines "$W/count.after")" 1 "the step after the sleep ran once"

say "C: an approval given while only the daemon runs releases the run"
mkdir -p "$W/c"
sm gate run "$RUNBOOKS/approval_gate.lua" -p dir="$W/c" -p count=1 --detach
expect_rc 3 gate "the gate suspends the run"
runC=$(newest_of approval-gate)
sleep 1
expect_status "$runC" suspended "no decision: the daemon leaves it waiting"
SUMMIT_USER=alice sm appr approve "$runC" --gate production --comment ok
expect_rc 0 appr "alice approves"
wait_until 30 "the daemon to release the approved run" status_is "$runC" succeeded
has "$W/c/trace" "deploy v1" "the run went on past the gate"

say "D: SIGKILL the daemon, restart it: no run lost, no fire twice"
kill -9 "$D1"
bg_wait "$D1"
eq "$RC" 137 "the daemon was killed"
before=$(fired_runs)
bg_start d2 daemon
D2=$BG_PID
wait_until 30 "more fires after the restart" fired_at_least $((before + 2))
eq "$(dup_fires)" "" "still one run per fire time"

say "E: two daemons on one state directory"
mkdir -p "$W/e"
sm sleep2 run "$RUNBOOKS/sleep.lua" -p dir="$W/e" -p d=3s --detach
expect_rc 3 sleep2 "a second sleeping run"
runE=$(newest_of sleep-resume)
bg_start d3 daemon
D3=$BG_PID
before=$(fired_runs)
wait_until 30 "fires with two daemons" fired_at_least $((before + 3))
wait_until 30 "the sleeping run to finish" status_is "$runE" succeeded
eq "$(dup_fires)" "" "two daemons never fire the same time twice"
eq "$(lines "$W/e/count.after")" 1 "the sleeping run's last step ran once"
eq "$("$SUMMIT" audit export --run "$runE" 2>/dev/null | grep -c '"action":"run.resumed"')" 1 \
  "it was resumed once"
kill -TERM "$D3"
bg_wait "$D3"
eq "$RC" 0 "the second daemon stops on SIGTERM"

say "F: an orphaned run is picked up; SIGTERM leaves it resumable"
sm pausev schedule pause verify
expect_rc 0 pausev "pause the 2 s schedule"
bg_start slow run slow.lua -p secs=4
SLOW=$BG_PID
slow_started() { [[ -n $(newest_of slow) ]]; }   # polled (a $(...) argument is read once)
wait_until 30 "the slow run to start" slow_started
runF=$(newest_of slow)
wait_until 30 "the slow step to start" journal_has "$runF" 1 started
resumes=$(audit_count "" daemon.resume)
kill -9 "$SLOW"
bg_wait "$SLOW"
kill -9 "$(cat pids/slow)" 2>/dev/null || true
more_resumes() { (($(audit_count "" daemon.resume) > resumes)); }
second_attempt() { [[ $(entry_field "$runF" 1/1 attempt) == 2 ]]; }
wait_until 30 "the daemon to pick up the orphaned run" more_resumes
wait_until 30 "the resumed step to start again" second_attempt
kill -TERM "$D2"
bg_wait "$D2"
eq "$RC" 0 "the daemon stops gracefully on SIGTERM"
expect_status "$runF" interrupted "the run it executed is left interrupted"
has "$T/d2.out" "stopped" "the daemon says it stopped"
eq "$(lines slow.done)" 0 "the slow run has not finished"
bg_start d4 daemon
D4=$BG_PID
wait_until 40 "the next daemon to finish the interrupted run" status_is "$runF" succeeded
eq "$(lines slow.done)" 1 "its last step ran once"
kill -TERM "$D4"
bg_wait "$D4"
eq "$RC" 0 "the last daemon stops"

say "the audit trail and the counts"
fired=$(audit_count "" schedule.fired)
runs=$(fired_runs)
eq "$fired" "$runs" "every schedule.fired has exactly one run ($runs)"
eq "$(dup_fires)" "" "one run per fire time in the end"
eq "$(state_sql "SELECT count(*) FROM runs WHERE schedule = 'verify' AND status != 'succeeded'")" 0 \
  "every scheduled run succeeded"
eq "$(lines hits)" "$runs" "each scheduled run did its effect once"
sm rm schedule remove verify
expect_rc 0 rm "schedule remove"
sm rm2 schedule remove verify
expect_rc 2 rm2 "removing it again"
