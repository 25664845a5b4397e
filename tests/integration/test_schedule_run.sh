#!/usr/bin/env bash
# `summit schedule run NAME` fires a schedule now (issue 14): a new run of
# the schedule's runbook with its params, env and config, started in the
# directory the schedule was added in, recorded as the schedule's run (its
# last_run, its streak of failures) and audited as schedule.fired
# (manual). Its exit code is the run's, as for `summit run`; options
# --json and --detach pass through. An unknown schedule exits 2.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
W=$T/wd
cd "$W"

cat >summit.lua <<'EOF2'
return {
  environments = { staging = { namespace = "eu" } },
}
EOF2
cat >tagged.lua <<'EOF2'
return runbook {
  name = "tagged", version = "1.0.0",
  params = {
    tag  = { type = "string", required = true },
    fail = { type = "boolean", default = false },
    wait = { type = "boolean", default = false },
  },
  run = function(p)
    step("mark", function()
      exec({ "sh", "-c", 'echo "$1" >> marks', "sh", p.tag })
    end)
    if p.wait then sleep("1h") end
    if p.fail then fail("asked to fail") end
    return { tag = p.tag, env = env.name, ns = env.namespace }
  end,
}
EOF2

# runs_of SCHEDULE: how many runs record it (no command shows a run's
# schedule: state_sql).
runs_of() { state_sql "SELECT count(*) FROM runs WHERE schedule = ?" "$1"; }
manual_fires() {
  "$SUMMIT" audit export 2>/dev/null | py 'import json,sys
n = 0
for l in sys.stdin:
    r = json.loads(l)
    d = r.get("detail") or {}
    if r["action"] == "schedule.fired" and d.get("schedule") == sys.argv[1] \
       and d.get("manual") is True and r["actor"] == "tester":
        n += 1
print(n)' "$1"
}

sm add schedule add nightly --cron "0 3 * * *" tagged.lua -p tag=night --env staging
expect_rc 0 add "schedule add nightly"
sm addf schedule add broken --every 1h tagged.lua -p tag=bad -p fail=true
expect_rc 0 addf "schedule add broken"
sm addw schedule add waiting --every 1h tagged.lua -p tag=w -p wait=true
expect_rc 0 addw "schedule add waiting"
next=$(schedule_field nightly next_fire)

say "fired now from another directory: the schedule's runbook, params and env"
cd "$T"
sm fire schedule run nightly --json
expect_rc 0 fire "schedule run nightly: exit code of the succeeded run"
run=$(newest_run)
eq "$(cat "$W/marks")" "night" "the run ran in the schedule's directory with its params"
has "$T/fire.out" '"event":"run.finished"' "--json passes through to the run"
sm res result "$run"
eq "$(cat "$T/res.out")" '{"env":"staging","ns":"eu","tag":"night"}' "the schedule's env and config were used"
eq "$(runs_of nightly)" 1 "the run is recorded as the schedule's"
eq "$(schedule_field nightly last_run)" "$run" "the schedule's last_run is the run"
eq "$(schedule_field nightly last_run_status)" "succeeded" "and its status"
eq "$(schedule_field nightly next_fire)" "$next" "the next fire on time is unchanged"
eq "$(manual_fires nightly)" 1 "audited: schedule.fired, manual, by the user"

say "a failing run: exit 1, counted in the schedule's streak"
sm ff schedule run broken
expect_rc 1 ff "schedule run broken: exit code of the failed run"
eq "$(schedule_field broken consecutive_failures)" 1 "one failure in a row"
sm ff2 schedule run broken
expect_rc 1 ff2 "again"
eq "$(schedule_field broken consecutive_failures)" 2 "two failures in a row"
eq "$(runs_of broken)" 2 "two runs, each its own fire"

say "--detach: a run that sleeps suspends, exit 3"
sm fw schedule run waiting --detach
expect_rc 3 fw "schedule run waiting --detach"
eq "$(schedule_field waiting last_run_status)" "suspended" "its run is suspended"

say "unknown schedule, bad usage: exit 2"
sm unk schedule run nosuch
expect_rc 2 unk "an unknown schedule"
has "$T/unk.err" "no schedule named 'nosuch'" "the error names it"
sm noname schedule run
expect_rc 2 noname "no name"
has "$T/noname.err" "summit schedule run NAME" "the usage"
sm badopt schedule run nightly -p tag=x
expect_rc 2 badopt "-p is the schedule's, not an option of schedule run"
eq "$(runs_of nightly)" 1 "no run was started by the refused commands"
