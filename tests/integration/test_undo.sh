#!/usr/bin/env bash
# Issue 3 / undo (compensation).
#
#  1. Five steps, each appending "do N" to a trace file, each with an undo
#     appending "undo N"; step 4 fails (before doing anything): the undos
#     of 3, 2, 1 run in that order (trace: do 1..3, undo 3, undo 2,
#     undo 1), the run is rolled_back, exit 1; `summit status --json`
#     shows the three undo steps completed and the failed step 4.
#  2. SIGKILL while undo 2 runs (a slow exec), then `summit resume`: undo
#     3 is not repeated, undo 2's in-flight exec runs again (attempt 2),
#     undo 1 runs once; final status rolled_back.
#  3. An undo that fails (undo 2): the run is failed (not rolled_back) and
#     its error names both the step's error and the undo's error.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

rb=$T/wd/undo5.lua
cat >"$rb" <<'EOF'
return runbook {
  name = "undo-five",
  params = {
    dir = { type = "string", required = true },
    slow_undo = { type = "integer", default = 0 },   -- this undo blocks until dir/go exists
    fail_undo = { type = "integer", default = 0 },   -- this undo fails
  },
  run = function(p)
    local function trace(line)
      exec({ "sh", "-c", 'echo "$1" >> "$2"', "sh", line, p.dir .. "/trace" })
    end
    for i = 1, 5 do
      step{ "s" .. i, function()
        if i == 4 then fail("step 4 broke") end
        trace("do " .. i)
        return i
      end, undo = function(r)
        if p.slow_undo == i then
          exec({ "sh", "-c", 'echo "$4" >> "$3"; echo $$ > "$1"; while ! test -e "$2"; do sleep 0.05; done',
                 "sh", p.dir .. "/pids/undo", p.dir .. "/go", p.dir .. "/trace", "undo " .. i .. " in flight" })
        end
        if p.fail_undo == i then fail("undo " .. i .. " broke") end
        trace("undo " .. i .. " (result " .. tostring(r) .. ")")
      end }
    end
  end,
}
EOF

# undo_entries RUN: "name=state" of the undo steps in `summit status
# --json`, in journal order.
undo_entries() {
  "$SUMMIT" status "$1" --json | py 'import json,sys
d = json.load(sys.stdin)
print(" ".join("%s=%s" % (e["name"], e["state"]) for e in d["entries"]
               if e["kind"] == "step" and e["name"].startswith("undo ")))'
}

say "1. step 4 of 5 fails: undos 3, 2, 1 run in that order"
w1=$T/w1
mkdir -p "$w1/pids"
sm u1 run "$rb" -p dir="$w1"
expect_rc 1 u1 "a run whose step 4 fails and is rolled back"
run1=$(newest_run)
expect_status "$run1" rolled_back "the rolled-back run"
trace_is "$w1" "steps 1-3 ran, then undo 3, undo 2, undo 1, each with its step's result" \
  "do 1" "do 2" "do 3" "undo 3 (result 3)" "undo 2 (result 2)" "undo 1 (result 1)"
eq "$(undo_entries "$run1")" "undo s3=completed undo s2=completed undo s1=completed" \
  "summit status --json lists the undo steps, completed, newest first"
eq "$(entry_field "$run1" 4 state)" failed "step 4 is failed in the journal"
step5=$("$SUMMIT" status "$run1" --json | py 'import json,sys
print(sum(1 for e in json.load(sys.stdin)["entries"] if e.get("name") == "s5"))')
eq "$step5" 0 "step 5 never ran"
cat "$T/u1.out" "$T/u1.err" >"$T/u1.all"
has "$T/u1.all" "step 4 broke" "the output gives the step's error"
"$SUMMIT" status "$run1" >"$T/u1.status"
has "$T/u1.status" "undo s2" "summit status (human) shows what was undone"

say "2. SIGKILL during undo 2, then resume: the undo resumes at undo 2"
w2=$T/w2
mkdir -p "$w2/pids"
bg_run u2 run "$rb" -p dir="$w2" -p slow_undo=2
pid=$BG_PID
run2=$NEW_RUN
wait_until 30 "undo 2 to be running" test -s "$w2/pids/undo"
kill -9 "$pid"
bg_wait "$pid"
eq "$RC" 137 "summit was killed during undo 2"
trace_is "$w2" "before the crash: do 1..3, undo 3, undo 2 in flight" \
  "do 1" "do 2" "do 3" "undo 3 (result 3)" "undo 2 in flight"
kill -9 "$(cat "$w2/pids/undo")" 2>/dev/null || true   # the orphaned exec of the killed run
rm -f "$w2/pids/undo"
touch "$w2/go"
sm u2r resume "$run2"
expect_rc 1 u2r "summit resume of the run killed during undo 2 (ends rolled back)"
expect_status "$run2" rolled_back "the resumed rollback"
trace_is "$w2" "undo 3 not repeated, undo 2 ran again, undo 1 ran once" \
  "do 1" "do 2" "do 3" "undo 3 (result 3)" "undo 2 in flight" "undo 2 in flight" "undo 2 (result 2)" "undo 1 (result 1)"
eq "$(undo_entries "$run2")" "undo s3=completed undo s2=completed undo s1=completed" \
  "summit status --json: all three undo steps completed"
"$SUMMIT" log "$run2" --json | py 'import json,sys
rows = [json.loads(l) for l in sys.stdin]
key = next(r["key"] for r in rows if r["name"] == "undo s2")
again = [r for r in rows if r["key"].startswith(key + "/") and r["kind"] == "exec"
         and r["state"] == "started" and r["attempt"] == 2]
s3 = [r for r in rows if r["name"] == "undo s3" and r["state"] == "started"]
sys.exit(0 if len(again) == 1 and len(s3) == 1 else 1)' ||
  { "$SUMMIT" log "$run2" >&2; die "the journal should show undo 2's exec started again at attempt 2 and undo 3 started once"; }
ok "the journal: undo 2's in-flight exec re-ran as attempt 2; undo 3 started once"

say "3. an undo that fails: status failed, the error names both errors"
w3=$T/w3
mkdir -p "$w3/pids"
sm u3 run "$rb" -p dir="$w3" -p fail_undo=2 --json
expect_rc 1 u3 "a run whose undo 2 fails"
run3=$(newest_run)
expect_status "$run3" failed "the run whose rollback failed"
trace_is "$w3" "undo 3 ran; undo 2 failed before its effect" \
  "do 1" "do 2" "do 3" "undo 3 (result 3)"
err=$(run_field "$run3" error)
echo "$err" >"$T/u3.error"
has "$T/u3.error" "step 4 broke" "the run's error names the step's error"
has "$T/u3.error" "undo 2 broke" "and the undo's error"
finished=$(grep '"event":"run.finished"' "$T/u3.out" || true)
echo "$finished" >"$T/u3.finished"
has "$T/u3.finished" "step 4 broke" "run.finished gives the step's error"
has "$T/u3.finished" "undo 2 broke" "and the undo's error"
has "$T/u3.finished" '"status":"failed"' "run.finished says failed"

