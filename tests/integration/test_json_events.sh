#!/usr/bin/env bash
# Issue 2 / the --json event stream and SIGINT.
#
#  1. `summit run --json` of a 3-step runbook: stdout is one JSON object per
#     line, each with event, ts (RFC 3339) and run (the run's id); the
#     stream starts with run.started and ends with run.finished (status
#     succeeded); every step has step.started and step.completed with key,
#     name, attempt (and duration_ms); exit 0.
#  2. A failing run: step.failed with an error, run.finished status failed,
#     exit 1.
#  3. --detach with a sleep: wait.started (kind sleep), run.suspended as the
#     last event, no run.finished, exit 3; the resume (--json) emits
#     step.replayed for the completed step and ends with run.finished.
#  4. SIGINT to a running `summit run` ends it with exit 130, stops the
#     process it was running, leaves the run resumable, and `summit resume`
#     succeeds (the steps before ran once).
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

# check_stream FILE RUN FIRST LAST [STATUS]: validates a --json stream
# (FIRST "-": any first event); writes its event names to FILE.events.
check_stream() {
  py '
import json, re, sys
path, run, first, last, status = sys.argv[1:6]
rfc3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
fails, events = [], []
lines = open(path).read().splitlines()
if not lines:
    fails.append("no output")
for i, line in enumerate(lines, 1):
    try:
        e = json.loads(line)
    except ValueError as x:
        fails.append("line %d is not JSON (%s): %r" % (i, x, line[:200])); continue
    if not isinstance(e, dict):
        fails.append("line %d is not an object" % i); continue
    for k in ("event", "ts", "run"):
        if not isinstance(e.get(k), str):
            fails.append("line %d has no string %r: %s" % (i, k, line[:200]))
    if isinstance(e.get("ts"), str) and not rfc3339.match(e["ts"]):
        fails.append("line %d: ts %r is not RFC 3339" % (i, e["ts"]))
    if e.get("run") != run:
        fails.append("line %d: run %r, expected %r" % (i, e.get("run"), run))
    ev = e.get("event")
    events.append(ev)
    if isinstance(ev, str) and ev.startswith("step.") and ev not in ("step.recovered",):
        for k in ("key", "name"):
            if not isinstance(e.get(k), str):
                fails.append("line %d: %s without a string %r" % (i, ev, k))
        if ev in ("step.started", "step.completed", "step.failed", "step.replayed") and not isinstance(e.get("attempt"), (int, float)):
            fails.append("line %d: %s without a numeric attempt" % (i, ev))
        if ev in ("step.completed", "step.failed") and not isinstance(e.get("duration_ms"), (int, float)):
            fails.append("line %d: %s without a numeric duration_ms" % (i, ev))
        if ev == "step.failed" and not e.get("error"):
            fails.append("line %d: step.failed without an error" % i)
    if ev == "run.finished" and status != "-" and e.get("status") != status:
        fails.append("line %d: run.finished status %r, expected %r" % (i, e.get("status"), status))
if events and first != "-" and events[0] != first:
    fails.append("the first event is %r, expected %r" % (events[0], first))
if events and events[-1] != last:
    fails.append("the last event is %r, expected %r" % (events[-1], last))
open(path + ".events", "w").write("\n".join(e or "" for e in events) + "\n")
if fails:
    for f in fails: print("FAIL: " + f, file=sys.stderr)
    sys.exit(1)
' "$@" "${5:--}" || { echo "---- $1 ----" >&2; cat "$1" >&2; die "the --json stream $(basename "$1") is not as specified"; }
  local starts=""
  [[ $3 == - ]] || starts=" starts with $3,"
  ok "$(basename "$1"): every line is a JSON object with event, RFC 3339 ts and run;$starts ends with $4"
}

# count_events FILE EVENT [FIELD VALUE]: how many EVENT lines (optionally
# with FIELD == VALUE) the stream FILE holds.
count_events() {
  py 'import json,sys
n = 0
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e.get("event") == sys.argv[2] and (len(sys.argv) < 5 or str(e.get(sys.argv[3])) == sys.argv[4]):
        n += 1
print(n)' "$@"
}

say "1. summit run --json"
w=$T/w1
mkdir -p "$w"
touch "$w/marker"
sm j1 run "$RUNBOOKS/flaky.lua" -p dir="$w" --json
expect_rc 0 j1 "run --json"
run=$(newest_run)
check_stream "$T/j1.out" "$run" run.started run.finished succeeded
eq "$(count_events "$T/j1.out" run.started)" 1 "one run.started"
eq "$(count_events "$T/j1.out" step.started)" 3 "three step.started"
eq "$(count_events "$T/j1.out" step.completed)" 3 "three step.completed"
for k in 1 2 3; do
  eq "$(count_events "$T/j1.out" step.completed key "$k")" 1 "step.completed for key $k"
done
eq "$(count_events "$T/j1.out" step.completed name second)" 1 "step.completed names the step ('second')"
eq "$(count_events "$T/j1.out" run.finished status succeeded)" 1 "run.finished with status succeeded"

say "2. a failing run --json"
w=$T/w2
mkdir -p "$w"
sm j2 run "$RUNBOOKS/flaky.lua" -p dir="$w" --json
expect_rc 1 j2 "failing run --json"
run=$(newest_run)
check_stream "$T/j2.out" "$run" run.started run.finished failed
eq "$(count_events "$T/j2.out" step.failed key 2)" 1 "step.failed for the failing step (key 2)"
has "$T/j2.out" "marker missing" "the failure carries the command's stderr"

say "3. --detach with a sleep, then resume --json"
w=$T/w3
mkdir -p "$w"
sm j3 run "$RUNBOOKS/sleep.lua" -p dir="$w" -p d=1s --json --detach
expect_rc 3 j3 "run --json --detach that sleeps"
run=$(newest_run)
check_stream "$T/j3.out" "$run" run.started run.suspended
eq "$(count_events "$T/j3.out" wait.started kind sleep)" 1 "wait.started with kind sleep"
eq "$(count_events "$T/j3.out" run.finished)" 0 "no run.finished for a suspended run"
expect_status "$run" suspended "the detached run"
sleep 1
sm j4 resume "$run" --json
expect_rc 0 j4 "resume --json"
py 'import json,sys
evs = [json.loads(l)["event"] for l in open(sys.argv[1])]
sys.exit(0 if "run.started" not in evs[1:] else 1)' "$T/j4.out" || die "the resume emitted run.started after its first line"
check_stream "$T/j4.out" "$run" - run.finished succeeded
eq "$(count_events "$T/j4.out" step.replayed key 1)" 1 "step.replayed for the completed step (key 1)"
eq "$(count_events "$T/j4.out" step.replayed name before)" 1 "step.replayed names the step ('before')"
eq "$(count_events "$T/j4.out" step.completed key 3)" 1 "step.completed for the step after the sleep"
eq "$(count_events "$T/j4.out" step.started key 1)" 0 "the completed step was not started again"
eq "$(lines "$w/count.before") $(lines "$w/count.after")" "1 1" "each step ran once"

say "4. SIGINT to a running summit run"
w=$T/w4
mkdir -p "$w/pids"
bg_start int run "$RUNBOOKS/slow.lua" -p dir="$w" --json
pid=$BG_PID
wait_until 30 "the slow step's process to run" test -s "$w/pids/slow"
child=$(cat "$w/pids/slow")
kill -INT "$pid"
bg_wait "$pid"
eq "$RC" 130 "SIGINT ends summit run with exit 130"
run=$(newest_run)
check_stream "$T/int.out" "$run" run.started run.finished
st=$(run_status "$run")
case $st in
  succeeded | failed | cancelled | rolled_back) die "after SIGINT the run is '$st', not resumable" ;;
esac
ok "after SIGINT the run is '$st' (resumable)"
sleep 0.2
if kill -0 "$child" 2>/dev/null; then
  die "the process the slow step started (pid $child) still runs after summit was interrupted"
fi
ok "the interrupted step's process was stopped"
touch "$w/release"
sm int_resume resume "$run"
expect_rc 0 int_resume "resume after SIGINT"
expect_status "$run" succeeded "the resumed run"
eq "$(lines "$w/count.before")" 1 "the step before the interrupt ran once"
eq "$(lines "$w/count.slow")" 2 "the interrupted step ran again"
eq "$(lines "$w/count.after")" 1 "the step after ran once"
