#!/usr/bin/env bash
# Issue 2 / durable sleep: a run inside sleep("3s") is SIGKILLed after ~1 s.
#  A. Resumed ~5 s after the sleep began (past its wake time): the resume
#     does not wait again (coarse bound: < 2 s, no wait.started event), the
#     sleep entry is completed, the steps around it ran once, and the step
#     after the sleep began no earlier than the journaled wake time.
#  B. Resumed right after the kill (before the wake time) of a sleep("6s"):
#     the run waits until the ORIGINAL wake time (>= 6 s after the sleep
#     began, per the journal), not a fresh 6 s from the resume.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
rb=$RUNBOOKS/sleep.lua
# The journal's `started` row is stamped a moment after the wake time is
# computed, so allow a few ms of slack when comparing the two.
SLACK=50

# ts_ms RUN KEY STATE: journal timestamp (epoch ms) of the first such row.
ts_ms() {
  "$SUMMIT" log "$1" --json | py 'import json,sys,datetime
for l in sys.stdin:
    r = json.loads(l)
    if r["key"] == sys.argv[1] and r["state"] == sys.argv[2]:
        t = datetime.datetime.strptime(r["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
        print(int(t.timestamp() * 1000)); break
else:
    print("none")' "$2" "$3"
}

# start_and_kill NAME WORKDIR: runs the runbook, kills it ~1 s into the
# sleep; sets RUN and SLEEP_T0 (ms, when the sleep started, per the journal).
start_and_kill() {
  local name=$1 w=$2 d=${3:-3}
  mkdir -p "$w"
  bg_run "$name" run "$rb" -p dir="$w" -p d=${d}s
  local pid=$BG_PID
  RUN=$NEW_RUN
  wait_until 30 "the sleep to start" journal_has "$RUN" 2 started
  # ~1 s after the sleep began by the journal's clock, not 1 s after this
  # poll saw it: on a loaded machine the poll alone can take seconds.
  local t0 now
  t0=$(ts_ms "$RUN" 2 started)
  now=$(now_ms)
  ((now < t0 + 1000)) && ms_sleep $((t0 + 1000 - now))
  kill -9 "$pid"
  bg_wait "$pid"
  eq "$RC" 137 "$name: summit was killed during the sleep"
  eq "$(entry_field "$RUN" 2 state)" started "$name: the sleep entry (key 2) is in flight"
  SLEEP_T0=$(ts_ms "$RUN" 2 started)
}

say "A: kill ~1 s into sleep(3s), resume ~5 s after the sleep began"
start_and_kill A "$T/a"
runA=$RUN
target=$((SLEEP_T0 + 5000))
now=$(now_ms)
((now < target)) && ms_sleep $((target - now))
t0=$(now_ms)
sm resumeA resume "$runA" --json
t1=$(now_ms)
expect_rc 0 resumeA "resume after the wake time"
elapsed=$((t1 - t0))
echo "  resume took ${elapsed} ms"
((elapsed < 2000)) || die "the resume took ${elapsed} ms (>= 2 s): it waited again"
ok "the resume completed quickly (< 2 s)"
hasnt "$T/resumeA.out" '"wait.started"' "no wait.started event: the resume did not wait again"
expect_status "$runA" succeeded "run A"
eq "$(entry_field "$runA" 2 kind)" sleep "key 2 is the sleep"
eq "$(entry_field "$runA" 2 state)" completed "the sleep entry is completed"
eq "$(lines "$T/a/count.before")" 1 "the step before the sleep ran once"
eq "$(lines "$T/a/count.after")" 1 "the step after the sleep ran once"
after=$(ts_ms "$runA" 3 started)
[[ $after != none ]] || die "no started row for the step after the sleep (key 3)"
((after - SLEEP_T0 >= 3000 - SLACK)) || die "the step after the sleep started $((after - SLEEP_T0)) ms after the sleep began (< 3000)"
ok "the step after the sleep started $((after - SLEEP_T0)) ms after the sleep began (>= 3 s, within ${SLACK} ms)"

# B sleeps 6 s: the few checks between the kill and the resume must not
# outlast the sleep, even on a slow machine under ASan.
say "B: kill ~1 s into sleep(6s), resume at once: it waits for the original wake time"
start_and_kill B "$T/b" 6
runB=$RUN
t0=$(now_ms)
sm resumeB resume "$runB" --json
expect_rc 0 resumeB "resume before the wake time"
expect_status "$runB" succeeded "run B"
has "$T/resumeB.out" '"wait.started"' "the early resume waits (wait.started)"
after=$(ts_ms "$runB" 3 started)
[[ $after != none ]] || die "no started row for the step after the sleep (key 3)"
((after - SLEEP_T0 >= 6000 - SLACK)) || die "the step after the sleep started only $((after - SLEEP_T0)) ms after the sleep began: the wake time was not honoured"
ok "the step after the sleep started $((after - SLEEP_T0)) ms after the sleep began (>= 6 s, within ${SLACK} ms)"
((after - t0 < 5900)) || die "after the resume the run slept another $((after - t0)) ms: the sleep restarted instead of keeping its journaled wake time"
ok "the resume waited only the remainder ($((after - t0)) ms < 6 s): the wake time is absolute"
eq "$(lines "$T/b/count.before")" 1 "B: the step before the sleep ran once"
eq "$(lines "$T/b/count.after")" 1 "B: the step after the sleep ran once"
