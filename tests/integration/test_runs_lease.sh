#!/usr/bin/env bash
# Issue 3 / leases with heartbeats.
#
#  1. While a run executes, `summit runs --json` shows its owner: summit's
#     pid, this host, a heartbeat and a lease expiry in the future; the
#     human listing shows the owner and heartbeat age, not "dead".
#  2. The live executor renews its lease: the heartbeat moves forward
#     within ~15 s (the heartbeat period is 10 s).
#  3. A second `summit resume` of the live run exits 5 naming the owner pid.
#  4. After kill -9 of the owner, `summit runs` shows the run dead and
#     resumable although its lease has not expired, and `summit resume`
#     takes it over at once (same host, pid gone) and finishes it without
#     re-running the completed step.
#  5. Finished and suspended runs have no owner.
#  6. An owner on another host (simulated by rewriting the row with
#     state_sql) blocks resume (exit 5) until its lease lapses; then the
#     run is resumable by anyone.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

W=$T/wd
cat >"$W/lease.lua" <<'EOF'
return runbook {
  name = "leased",
  params = { dir = { type = "string", required = true }, pause = { type = "boolean", default = false } },
  run = function(p)
    step("first", function()
      exec({ "sh", "-c", 'echo first >> "$1"', "sh", p.dir .. "/trace" })
    end)
    if p.pause then sleep("1h") end
    step("block", function()
      exec({ "sh", "-c", 'echo $$ > "$1"; while ! test -e "$2"; do sleep 0.05; done', "sh",
             p.dir .. "/pids/child", p.dir .. "/go" })
    end)
    step("last", function()
      exec({ "sh", "-c", 'echo last >> "$1"', "sh", p.dir .. "/trace" })
    end)
  end,
}
EOF

# owner RUN FIELD: a field of the run's owner in `summit runs --json`
# ("" if there is no owner), timestamps as epoch milliseconds.
owner() {
  "$SUMMIT" runs --json | py 'import json,sys
from datetime import datetime, timezone
for r in map(json.loads, sys.stdin):
    if r["run"] != sys.argv[1]:
        continue
    o = r.get("owner") or {}
    v = o.get(sys.argv[2], "")
    if sys.argv[2] in ("heartbeat", "lease_expires") and v:
        v = int(datetime.strptime(v, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp() * 1000)
    print(v)
    break
else:
    print("<no run>")' "$1" "$2"
}

# runs_line RUN: the run's line in the human `summit runs` listing.
runs_line() { "$SUMMIT" runs | grep -F -- "$1" || true; }

d=$T/r1
mkdir -p "$d/pids"
bg_run r1 run "$W/lease.lua" -p dir="$d"
pid=$BG_PID
RUN=$NEW_RUN
wait_until 30 "the run to reach its blocking step" test -s "$d/pids/child"

say "1. a live run shows its owner, heartbeat and lease"
eq "$(owner "$RUN" pid)" "$pid" "runs --json: owner.pid is summit's pid"
eq "$(owner "$RUN" host)" "$(hostname)" "runs --json: owner.host is this host"
hb1=$(owner "$RUN" heartbeat)
exp1=$(owner "$RUN" lease_expires)
[[ $hb1 =~ ^[0-9]+$ ]] || die "runs --json: no owner.heartbeat for the live run (got '$hb1')"
ok "runs --json: owner.heartbeat is set"
((exp1 > $(now_ms))) || die "runs --json: the live run's lease_expires ($exp1) is not in the future"
ok "runs --json: the lease expires in the future"
line=$(runs_line "$RUN")
echo "$line" >"$T/line1"
has "$T/line1" "pid $pid" "summit runs shows the owner pid"
has "$T/line1" "heartbeat" "and the heartbeat age"
hasnt "$T/line1" "dead" "and does not call the live run dead"

say "2. the live executor renews its lease"
renewed() { local h; h=$(owner "$RUN" heartbeat); [[ $h =~ ^[0-9]+$ ]] && ((h > hb1)); }
wait_until 16 "the heartbeat to move forward (period 10 s)" renewed
hb2=$(owner "$RUN" heartbeat)
exp2=$(owner "$RUN" lease_expires)
ok "the heartbeat moved forward by $((hb2 - hb1)) ms"
((exp2 > exp1)) || die "the lease expiry did not move forward with the heartbeat ($exp1 -> $exp2)"
ok "the lease expiry moved forward too"

say "3. a second resume of the live run exits 5"
sm busy resume "$RUN"
expect_rc 5 busy "summit resume of a run that a live process executes"
has "$T/busy.err" "$pid" "it names the owner pid"

say "4. kill -9 of the owner: resumable at once"
kill -9 "$pid"
bg_wait "$pid"
eq "$RC" 137 "the owner was SIGKILLed"
exp3=$(owner "$RUN" lease_expires)
((exp3 > $(now_ms) + 1000)) || die "the lease has (nearly) expired already ($exp3); this check needs it still running"
ok "the dead owner's lease has not expired yet"
line=$(runs_line "$RUN")
echo "$line" >"$T/line4"
has "$T/line4" "dead" "summit runs shows the owner dead"
has "$T/line4" "resumable" "and the run resumable"
kill -9 "$(<"$d/pids/child")" 2>/dev/null || true  # the orphaned exec
rm -f "$d/pids/child"
touch "$d/go"
sm res resume "$RUN"
expect_rc 0 res "summit resume right after the owner died (same host, pid gone)"
expect_status "$RUN" succeeded "the taken-over run"
eq "$(grep -c first "$d/trace")" 1 "the completed step did not run again"
eq "$(grep -c last "$d/trace")" 1 "the last step ran"

say "5. finished and suspended runs have no owner"
eq "$(owner "$RUN" pid)" "" "the finished run has no owner"
d5=$T/r5
mkdir -p "$d5/pids"
sm s5 run "$W/lease.lua" -p dir="$d5" -p pause=true --detach
expect_rc 3 s5 "a run that sleeps 1h, --detach"
run5=$(newest_run)
eq "$(owner "$run5" pid)" "" "the suspended run has no owner process"
line=$(runs_line "$run5")
echo "$line" >"$T/line5"
has "$T/line5" "suspended" "summit runs shows it suspended"

say "6. an owner on another host: busy until its lease lapses"
# Another host is simulated by rewriting the owner columns of the dead
# run's row (no command can): summit cannot see whether that pid lives.
d6=$T/r6
mkdir -p "$d6/pids"
bg_run r6 run "$W/lease.lua" -p dir="$d6"
pid6=$BG_PID
run6=$NEW_RUN
wait_until 30 "the run to reach its blocking step" test -s "$d6/pids/child"
kill -9 "$pid6"
bg_wait "$pid6"
kill -9 "$(<"$d6/pids/child")" 2>/dev/null || true
rm -f "$d6/pids/child"
touch "$d6/go"
state_sql "UPDATE runs SET owner_host = 'far-away-host', owner_pid = 4242 WHERE id = ?" "$run6"
eq "$(owner "$run6" host)" far-away-host "the run now looks owned by pid 4242 on far-away-host"
sm r6a resume "$run6"
expect_rc 5 r6a "resume while another host's lease is current"
has "$T/r6a.err" "4242" "it names the owner pid"
line=$(runs_line "$run6")
echo "$line" >"$T/line6"
hasnt "$T/line6" "dead" "summit runs does not call another host's unexpired owner dead"
state_sql "UPDATE runs SET lease_expires_ms = ? WHERE id = ?" $(($(now_ms) - 1000)) "$run6"
line=$(runs_line "$run6")
echo "$line" >"$T/line6b"
has "$T/line6b" "resumable" "once the lease lapsed, summit runs shows the run resumable"
sm r6b resume "$run6"
expect_rc 0 r6b "resume once the other host's lease lapsed"
expect_status "$run6" succeeded "the taken-over run"
eq "$(grep -c first "$d6/trace")" 1 "its completed step did not run again"

