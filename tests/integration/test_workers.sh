#!/usr/bin/env bash
# Issue 15 / workers (docs/workers.md): summit submit queues runs and
# daemons on one store take them, with real processes.
#  A. bad input: a misspelt option, --on without '=', an unknown runbook,
#     a bad --labels: exit 2 naming it; nothing is queued;
#  B. three daemons and 200 submitted short runs: each run executed exactly
#     once (the journal: no step started twice; the audit trail: one
#     run.queued naming the submitter, one claim, one run.started and one
#     run.finished per run), none lost;
#  C. labels: runs --on region=eu are taken only by the daemon labelled
#     region=eu; one whose labels no worker has stays queued (runs and
#     status show what it waits for) and summit cancel ends it with no
#     process;
#  D. the worker running a submitted run (its daemon and the daemon's
#     child) SIGKILLed mid-run: another daemon with the labels finishes the
#     run once the claim and lease lapse, and no completed step runs again;
#     with only the child killed (its daemon alive) the run is finished
#     once too.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
W=$T/wd
cd "$W"
mkdir -p pids
# Short leases: the killed worker's run is picked up in seconds.
export SUMMIT_LEASE_TTL=2s
export SUMMIT_USER=submitter

cat >tick.lua <<'EOF2'
-- One effect per run, marked with the run's param.
return runbook {
  name = "tick", version = "1.0.0",
  params = { n = { type = "string", required = true } },
  run = function(p)
    step("hit", function()
      exec({ "sh", "-c", 'echo "$1" >> hits', "sh", p.n })
    end)
  end,
}
EOF2
cat >long.lua <<'EOF2'
-- A step, a slow step that waits for the file release.TAG (its shell's
-- pid in pids/long.TAG), a step; each counts its runs in TAG.STEP.
return runbook {
  name = "long", version = "1.0.0",
  params = { tag = { type = "string", required = true } },
  run = function(p)
    local function mark(what)
      return { "sh", "-c", 'echo x >> "$1.$2"', "sh", p.tag, what }
    end
    step("before", function() exec(mark("before")) end)
    step("slow", function()
      exec({ "sh", "-c", 'echo x >> "$1.slow"; echo $$ > "pids/long.$1"; '
             .. 'while [ ! -e "release.$1" ]; do sleep 0.1; done', "sh", p.tag })
    end)
    step("after", function() exec(mark("after")) end)
  end,
}
EOF2

# audit_rows FILTER: the audit trail as JSON lines, one per record, each
# {run, action, actor, detail}: for the checks below.
audit_json() { "$SUMMIT" audit export 2>/dev/null; }
# worker_of RUN: the daemon (host:pid) that claimed the queued run.
worker_of() {
  audit_json | py 'import json,sys
for l in sys.stdin:
    r = json.loads(l)
    if r["run"] == sys.argv[1] and r["action"] == "daemon.resume":
        print(r["detail"].get("worker", ""))' "$1" | tail -n 1
}
status_is() { [[ $(run_status "$1") == "$2" ]]; }
count_status() { "$SUMMIT" runs --status "$1" --json | grep -c '"run"' || true; }

say "A: bad input gives exit 2 naming it, and queues nothing"
sm bad1 submit tick.lua -p n=1 --onn region=eu
expect_rc 2 bad1 "a misspelt option"
has "$T/bad1.err" "unknown option --onn" "the option is named"
sm bad2 submit tick.lua -p n=1 --on region
expect_rc 2 bad2 "--on without ="
has "$T/bad2.err" "--on 'region': not KEY=VALUE" "the --on value is named"
sm bad3 submit no-such-runbook -p n=1
expect_rc 2 bad3 "an unknown runbook"
has "$T/bad3.err" "'no-such-runbook' is neither a runbook file nor the name" "the runbook is named"
sm bad4 submit tick.lua -p m=1
expect_rc 2 bad4 "an unknown param (checked at submit, as run does)"
has "$T/bad4.err" "unknown param 'm'" "the param is named"
sm bad5 submit tick.lua
expect_rc 2 bad5 "a missing required param"
sm bad6 submit tick.lua -p n=1 --on region=eu --on region=us
expect_rc 2 bad6 "a label required twice"
has "$T/bad6.err" "label 'region' is given twice" "the label is named"
cat >secret.lua <<'EOF2'
return runbook {
  name = "secret", version = "1.0.0",
  params = { token = { type = "string", secret = true, env = "TOKEN" } },
  run = function(p) step("use", function() return #p.token end) end,
}
EOF2
sm bad7s submit secret.lua -p token=abcdefgh
expect_rc 2 bad7s "a secret param given with -p (never stored: no worker could read it)"
has "$T/bad7s.err" "-p token: a secret param given with -p is never stored" "the secret param is named"
sm bad7 daemon --labels region=eu,zone
expect_rc 2 bad7 "--labels with an item without ="
has "$T/bad7.err" "--labels 'zone': not KEY=VALUE" "the --labels item is named"
sm bad8 daemon --label region=eu
expect_rc 2 bad8 "a misspelt daemon option"
has "$T/bad8.err" "unknown argument '--label'" "the daemon option is named"
eq "$(run_count)" 0 "nothing was queued"

say "B: three daemons, 200 submitted runs, each run exactly once"
bg_start d1 daemon --poll 100ms --max-runs 3 --labels region=eu
D1=$BG_PID
bg_start d2 daemon --poll 100ms --max-runs 3 --labels region=us
D2=$BG_PID
bg_start d3 daemon --poll 100ms --max-runs 3 --labels region=us,gpu=yes
D3=$BG_PID
N=200
# Submitted from two shells at once, while the daemons take them.
submit_range() {
  local i
  for ((i = $1; i <= $2; i++)); do
    "$SUMMIT" submit tick.lua -p n="$i" >>"$T/submitted.$1" 2>>"$T/submit.err" ||
      echo "submit $i failed" >>"$T/submit.failed"
  done
}
submit_range 1 100 &
S1=$!
submit_range 101 200 &
S2=$!
wait "$S1" "$S2"
[[ ! -e $T/submit.failed ]] || die "$(cat "$T/submit.failed")"
eq "$(cat "$T"/submitted.* | sort -u | wc -l | tr -d ' ')" "$N" "200 submits printed 200 run ids"
all_done() { (($(count_status succeeded) >= N)); }
wait_until 240 "200 submitted runs to succeed" all_done
eq "$(count_status succeeded)" "$N" "all 200 runs succeeded"
eq "$(lines hits)" "$N" "200 effects"
eq "$(sort -n hits | uniq | wc -l | tr -d ' ')" "$N" "each run's effect once (200 distinct)"
# The journal: no entry started twice in any run.
eq "$(state_sql "SELECT run_id, key FROM journal WHERE state = 'started'
    GROUP BY run_id, key HAVING count(*) > 1")" "" "no step started twice (journal)"
eq "$(state_sql "SELECT count(DISTINCT run_id) FROM journal WHERE key = '1'
    AND state = 'completed'")" "$N" "every run's step completed (journal)"
# The audit trail: per run, one of each; every worker took some.
audit_json >"$T/audit.jsonl"
py 'import json,sys,collections
per = collections.defaultdict(collections.Counter)
workers = collections.Counter()
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["run"] is None: continue
    a = r["action"]
    per[r["run"]][a] += 1
    if a == "run.queued": assert r["actor"] == "submitter", r
    if a == "daemon.resume":
        assert r["detail"]["why"] == "queued", r
        workers[r["detail"]["worker"]] += 1
    if a == "run.started": assert r["detail"].get("from") == "queued", r
assert len(per) == int(sys.argv[2]), len(per)
for run, c in per.items():
    for a in ("run.queued", "daemon.resume", "run.started", "run.finished",
              "step.completed"):
        assert c[a] == 1, (run, a, dict(c))
assert len(workers) == 3, workers
print("ok")' "$T/audit.jsonl" "$N" >"$T/audit.check" 2>&1 ||
  die "audit trail per run: $(cat "$T/audit.check")"
ok "audit: one run.queued (actor: the submitter), one claim, one run.started, one run.finished per run; all three daemons worked"
sm verify audit verify
expect_rc 0 verify "the audit chain verifies"

say "C: labels decide which daemon takes a run"
eu=()
for i in 1 2 3; do
  sm eu$i submit tick.lua -p n=eu$i --on region=eu
  expect_rc 0 eu$i "submit --on region=eu ($i)"
  eu+=("$(cat "$T/eu$i.out")")
done
sm gpu submit tick.lua -p n=gpu --on gpu=yes
expect_rc 0 gpu "submit --on gpu=yes"
GPU=$(cat "$T/gpu.out")
sm none submit tick.lua -p n=mars --on region=mars
expect_rc 0 none "submit --on region=mars (no such worker)"
NONE=$(cat "$T/none.out")
sm both submit tick.lua -p n=both --on region=eu --on gpu=yes
expect_rc 0 both "submit --on region=eu --on gpu=yes (no worker has both)"
BOTH=$(cat "$T/both.out")
for r in "${eu[@]}" "$GPU"; do
  wait_until 60 "run $r to succeed" status_is "$r" succeeded
done
for r in "${eu[@]}"; do
  eq "$(worker_of "$r")" "$(hostname):$D1" "run $r (--on region=eu) was taken by the region=eu daemon"
done
eq "$(worker_of "$GPU")" "$(hostname):$D3" "the gpu=yes run was taken by the gpu=yes daemon"
sleep 1.5  # a dozen more polls of each daemon
for r in "$NONE" "$BOTH"; do
  expect_status "$r" queued "a run no worker's labels match stays queued"
  eq "$(worker_of "$r")" "" "no daemon claimed it"
done
sm runs runs
has "$T/runs.out" "waiting for region=mars" "runs shows what the queued run waits for"
sm st status "$BOTH"
has "$T/st.out" "on       region=eu,gpu=yes (queued" "status shows its requirements"
sm stj status "$NONE" --json
has "$T/stj.out" '"on":{"region":"mars"}' "status --json has them as \"on\""
sm cancel cancel "$NONE"
expect_rc 0 cancel "cancel of a queued run"
has "$T/cancel.out" "cancelled (it was queued)" "it is cancelled here, with no process"
expect_status "$NONE" cancelled "the cancelled queued run"

say "D: a worker SIGKILLed mid-run; another daemon finishes the run"
kill -TERM "$D1" "$D2" "$D3"
for p in "$D1" "$D2" "$D3"; do
  bg_wait "$p"
  eq "$RC" 0 "daemon $p stopped on SIGTERM"
done
bg_start k1 daemon --poll 100ms --labels pool=kill
K1=$BG_PID
sm long submit long.lua -p tag=a --on pool=kill
expect_rc 0 long "submit the long run"
LONG=$(cat "$T/long.out")
wait_until 60 "the long run's slow step" test -s pids/long.a
owner_pid() { run_field "$1" owner | py 'import json,sys; print(json.load(sys.stdin)["pid"])'; }
kill -9 "$K1" "$(owner_pid "$LONG")"
kill -9 "$(cat pids/long.a)" 2>/dev/null || true
bg_wait "$K1"
eq "$(lines a.before)" 1 "the first step ran once before the kill"
touch release.a
bg_start k2 daemon --poll 100ms --labels pool=kill,region=eu
K2=$BG_PID
wait_until 90 "the other daemon to finish the run" status_is "$LONG" succeeded
eq "$(worker_of "$LONG")" "$(hostname):$K2" "the other daemon took the run over"
eq "$(lines a.before)" 1 "the completed step did not run again"
eq "$(lines a.slow)" 2 "the step cut off by the kill ran again"
eq "$(lines a.after)" 1 "the last step ran once"
eq "$(attempts "$LONG" 1 started)" "1" "the journal: the first step started once"
eq "$(audit_count "$LONG" run.started)" 1 "one run.started for the run"
has "$T/audit.jsonl" '"action":"daemon.started"' "the daemons' starts are audited"

say "D2: only the daemon's child SIGKILLed; the run is finished once"
bg_start k3 daemon --poll 100ms --labels pool=kill
K3=$BG_PID
sm long2 submit long.lua -p tag=b --on pool=kill
expect_rc 0 long2 "submit a second long run"
LONG2=$(cat "$T/long2.out")
wait_until 60 "the second long run's slow step" test -s pids/long.b
kill -9 "$(owner_pid "$LONG2")"
kill -9 "$(cat pids/long.b)" 2>/dev/null || true
touch release.b
wait_until 90 "a daemon to finish the run" status_is "$LONG2" succeeded
eq "$(lines b.before)" 1 "the completed step did not run again"
eq "$(lines b.slow)" 2 "the step cut off by the kill ran again"
eq "$(lines b.after)" 1 "the last step ran once"
eq "$(audit_count "$LONG2" daemon.resume '"why":"orphan"')" 1 "one daemon picked up the orphan"
for p in "$K2" "$K3"; do
  kill -TERM "$p"
  bg_wait "$p"
  eq "$RC" 0 "daemon $p stopped on SIGTERM"
done
# The children write to daemon.log, which lib.sh's check of *.err misses.
hasnt "$SUMMIT_STATE_DIR/daemon.log" "Sanitizer" "no sanitizer report from the daemons' children"
