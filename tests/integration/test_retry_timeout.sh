#!/usr/bin/env bash
# Issue 3 / step timeouts and retries.
#
#  1. step{ timeout = "300ms" } around `exec sleep 30` fails with ETIMEDOUT
#     well before 30 s; the child and its background grandchild (same
#     process group) are killed. The same timeout around a durable
#     sleep("30s") stops the timer.
#  2. on_exhausted = "pause": after its retries the step pauses the run:
#     exit 6, status needs_attention, the output says how to decide; a
#     plain resume still exits 6; `summit resume RUN --retry` re-runs the
#     step (it succeeds now, via a marker file) and the run succeeds.
#  3. The same with `--skip`: the step is skipped, the run goes on and
#     succeeds, the step did not run again.
#  4. SIGKILL during a retry's backoff (initial "3s"), then resume: the
#     attempt count continues (journal: attempt 1 then 2 of the step, never
#     a second attempt 1) and the durable backoff is still waited out.
#  5. Backoff shapes (from the step.retrying events): fixed, exponential
#     with a factor, capped by max.
#  6. Timers are not early: after 100 quick steps (synchronous journal
#     commits, no loop turn), a 300ms step timeout and a sleep("500ms")
#     still last >= 95% of their length (soft checks).
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

W=$T/wd

# dead PID: the process is gone or a zombie (waits up to 3 s).
dead() {
  local pid=$1 i st
  for ((i = 0; i < 60; i++)); do
    [[ -r /proc/$pid/stat ]] || return 0
    st=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo gone)
    [[ $st == Z || $st == gone ]] && return 0
    sleep 0.05
  done
  return 1
}


say "1. a step timeout kills the process (and its group) and stops timers"
cat >"$W/timeout.lua" <<'EOF'
return runbook {
  name = "step-timeout",
  params = { dir = { type = "string", required = true } },
  run = function(p)
    local ok, e = pcall(step, { "timer", timeout = "300ms", function() sleep("30s") end })
    log.info("timer step: %s", tostring(e))
    step{ "slow", timeout = "300ms", function()
      exec({ "sh", "-c", 'sleep 30 & echo $! > "$1"; echo $$ > "$2"; wait', "sh",
             p.dir .. "/pids/grandchild", p.dir .. "/pids/child" })
    end }
  end,
}
EOF
d1=$T/t1
mkdir -p "$d1/pids"
t0=$SECONDS
sm t1 run "$W/timeout.lua" -p dir="$d1" --json
elapsed=$((SECONDS - t0))
expect_rc 1 t1 "a run whose step times out"
run1=$(newest_run)
expect_status "$run1" failed "the timed-out run"
code=$(run_field "$run1" error | py 'import json,sys; print(json.load(sys.stdin)["code"])')
eq "$code" ETIMEDOUT "the run's error code"
((elapsed < 20)) || die "the run took ${elapsed}s; the 300ms timeouts did not stop sleep 30 / sleep(\"30s\")"
ok "the run ended after ${elapsed}s, not 30 s"
has "$T/t1.out" "timer step: ETIMEDOUT" "the timeout stopped the durable sleep with ETIMEDOUT"
[[ -s $d1/pids/child && -s $d1/pids/grandchild ]] || die "the exec did not record its pids"
dead "$(<"$d1/pids/child")" || die "the timed-out exec's process $(<"$d1/pids/child") is still running"
ok "the exec's process is gone"
dead "$(<"$d1/pids/grandchild")" || die "the exec's background child $(<"$d1/pids/grandchild") (same process group) is still running"
ok "its background child (same process group) is gone too"
eq "$(attempts "$run1" 2 failed)" 1 "the step failed once (no retries were asked for)"

cat >"$W/pause.lua" <<'EOF'
return runbook {
  name = "pause-on-exhausted",
  params = { dir = { type = "string", required = true } },
  run = function(p)
    step("before", function()
      exec({ "sh", "-c", 'echo before >> "$1"', "sh", p.dir .. "/trace" })
    end)
    step{ "check", retries = 1, backoff = { initial = "100ms" }, on_exhausted = "pause", function()
      exec({ "sh", "-c", 'echo try >> "$1"; test -e "$2"', "sh", p.dir .. "/trace", p.dir .. "/marker" })
    end }
    step("after", function()
      exec({ "sh", "-c", 'echo after >> "$1"', "sh", p.dir .. "/trace" })
    end)
  end,
}
EOF

say "2. on_exhausted = \"pause\": needs_attention, then resume --retry"
d2=$T/t2
mkdir -p "$d2"
sm p2 run "$W/pause.lua" -p dir="$d2"
expect_rc 6 p2 "a run whose step exhausts its retries with on_exhausted = pause"
run2=$(newest_run)
expect_status "$run2" needs_attention "the paused run"
trace_is "$d2" "the step ran 1 + 1 retry times, the step after did not run" before try try
cat "$T/p2.out" "$T/p2.err" >"$T/p2.all"
has "$T/p2.all" "summit resume $run2 --retry" "the output says how to retry"
has "$T/p2.all" "--skip" "and how to skip"
has "$T/p2.all" "check" "and names the step"
eq "$(run_field "$run2" failed_key)" 2 "the run points at the step (key 2)"
sm p2b resume "$run2"
expect_rc 6 p2b "a plain resume of the paused run"
trace_is "$d2" "the plain resume ran nothing" before try try
cat "$T/p2b.out" "$T/p2b.err" >"$T/p2b.all"
has "$T/p2b.all" "--retry" "the plain resume says how to decide"
if grep -q "in flight at a crash" "$T/p2b.all"; then
  soft_eq "says the step was in flight at a crash" "says the step exhausted its retries" \
    "the plain resume's message for an on_exhausted pause"
else
  ok "the plain resume does not claim a crash"
fi
touch "$d2/marker"
sm p2r resume "$run2" --retry
expect_rc 0 p2r "summit resume --retry"
expect_status "$run2" succeeded "the retried run"
trace_is "$d2" "the step ran once more and succeeded; the step before did not re-run" before try try try after
eq "$(entry_field "$run2" 2 state)" completed "the step is completed"

say "3. on_exhausted = \"pause\", then resume --skip"
d3=$T/t3
mkdir -p "$d3"
sm p3 run "$W/pause.lua" -p dir="$d3"
expect_rc 6 p3 "the paused run"
run3=$(newest_run)
sm p3s resume "$run3" --skip
expect_rc 0 p3s "summit resume --skip"
expect_status "$run3" succeeded "the run with the step skipped"
trace_is "$d3" "the step did not run again; the step after ran" before try try after
eq "$(entry_field "$run3" 2 state)" skipped "the journal shows the step skipped"

say "4. SIGKILL during a retry's backoff: the attempt count continues"
cat >"$W/backoff.lua" <<'EOF'
return runbook {
  name = "durable-backoff",
  params = { dir = { type = "string", required = true } },
  run = function(p)
    step{ "flaky", retries = 3, backoff = { initial = "3s", jitter = false }, function()
      -- fails on the first try, succeeds from the second on
      exec({ "sh", "-c", 'echo try >> "$1"; test "$(wc -l < "$1")" -ge 2', "sh", p.dir .. "/trace" })
    end }
  end,
}
EOF
d4=$T/t4
mkdir -p "$d4"
bg_run b4 run "$W/backoff.lua" -p dir="$d4"
pid=$BG_PID
run4=$NEW_RUN
second_attempt_waits() { [[ $(attempts "$run4" 1 started) == "1,2" ]]; }
wait_until 30 "attempt 2 of the step to be journaled (waiting out its backoff)" second_attempt_waits
kill -9 "$pid"
bg_wait "$pid"
eq "$RC" 137 "summit was killed during the backoff"
trace_is "$d4" "one try before the crash" try
eq "$(attempts "$run4" 1 started)" "1,2" "before the resume: attempt 1 and attempt 2 (waiting) of the step"
sm b4r resume "$run4"
expect_rc 0 b4r "summit resume after the crash"
expect_status "$run4" succeeded "the resumed run"
trace_is "$d4" "the step was tried twice in all" try try
eq "$(attempts "$run4" 1 started)" "1,2" "the journal: attempts 1, 2 started, attempt 1 never restarted"
eq "$(attempts "$run4" 1 completed)" 2 "attempt 2 completed"
gap=$("$SUMMIT" log "$run4" --json | py 'import json,sys
from datetime import datetime
rows = [json.loads(l) for l in sys.stdin]
def ms(r): return datetime.strptime(r["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp() * 1000
f1 = next(r for r in rows if r["key"] == "1" and r["state"] == "failed" and r["attempt"] == 1)
e2 = [r for r in rows if r["kind"] == "exec" and r["state"] == "started" and r["key"] != "1/1"]
print(int(ms(e2[0]) - ms(f1)) if e2 else -1)')
((gap >= 2500)) || die "the second try started ${gap} ms after the first failure; the 3 s backoff was skipped after the crash"
ok "the second try came ${gap} ms after the first failure (the 3 s backoff was not skipped after the crash)"

say "5. backoff shapes"
cat >"$W/shapes.lua" <<'EOF'
return runbook {
  name = "backoff-shapes",
  run = function()
    local function always_fail() fail("nope") end
    pcall(step, { "fixed", retries = 2, backoff = { initial = "50ms", type = "fixed", jitter = false }, always_fail })
    pcall(step, { "factor", retries = 2, backoff = { initial = "50ms", factor = 3, jitter = false }, always_fail })
    pcall(step, { "capped", retries = 3, backoff = { initial = "50ms", factor = 10, max = "120ms", jitter = false }, always_fail })
  end,
}
EOF
sm sh5 run "$W/shapes.lua" --json
expect_rc 0 sh5 "the backoff-shapes runbook"
delays=$(py 'import json,sys
out = {}
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["event"] == "step.retrying":
        out.setdefault(e["name"], []).append(str(e["delay_ms"]))
print(" ".join("%s=%s" % (k, ",".join(out.get(k, []))) for k in ("fixed", "factor", "capped")))' "$T/sh5.out")
eq "$delays" "fixed=50,50 factor=50,150 capped=50,120,120" "retry delays: fixed, exponential x3, capped at max"

say "6. timers do not fire early after a burst of synchronous work"
# 100 quick steps run back to back without waiting on the loop (each one a
# journal commit); a timeout or a sleep started right after must still
# last its full length. Measured inside the run with now() (wall clock).
cat >"$W/early.lua" <<'EOF'
return runbook {
  name = "no-early-timers",
  run = function()
    for i = 1, 100 do step("quick " .. i, function() return i end) end
    local t0 = now()
    local ok, e = pcall(step, { "timed", timeout = "300ms", function() sleep("30s") end })
    log.info("timeout-ms=%d code=%s", math.floor((now() - t0) * 1000), tostring(e and e.code))
    for i = 1, 100 do step("more " .. i, function() return i end) end
    local t1 = now()
    sleep("500ms")
    log.info("sleep-ms=%d", math.floor((now() - t1) * 1000))
  end,
}
EOF
sm e6 run "$W/early.lua" --json
expect_rc 0 e6 "the runbook with 2 x 100 quick steps, a timeout and a sleep"
has "$T/e6.out" "code=ETIMEDOUT" "the step timed out"
t_ms=$(sed -n 's/.*timeout-ms=\([0-9]*\).*/\1/p' "$T/e6.out" | head -n 1)
s_ms=$(sed -n 's/.*sleep-ms=\([0-9]*\).*/\1/p' "$T/e6.out" | head -n 1)
[[ -n $t_ms && -n $s_ms ]] || die "the runbook did not log its measurements"
# 5% slack for millisecond rounding of now(); a late timer is fine.
soft_eq "$((t_ms >= 285 ? 1 : 0))" 1 "a 300ms step timeout after 100 quick steps lasted ${t_ms} ms (>= 285 expected)"
soft_eq "$((s_ms >= 475 ? 1 : 0))" 1 "sleep(\"500ms\") after 100 quick steps lasted ${s_ms} ms (>= 475 expected)"

