#!/usr/bin/env bash
# summit.fleet (issue 18, docs/stdlib/fleet.md) on three simulated clusters
# (`summit sim serve` x3: eu, us, ap), each with Deployment web on
# registry/web:v1. On us the image registry/web:v2 never becomes ready
# (the sim's bad_images), as an image built for the wrong architecture
# would; eu and ap run it. The fleet is a rolling update of web, one
# cluster at a time, in the order eu, us, ap.
#  A. max_errors 0 (SSM's default): us fails, the budget is spent, ap is
#     never started; the run fails with EFLEET (and, as any failed run,
#     undoes its completed steps: eu and us back on v1); the audit says
#     per target what happened.
#  B. max_errors 1: us's failure is within the budget, ap is rolled; the
#     fleet returns completed_with_errors, the run succeeds.
#  C. on_budget = "pause": the run waits at the gate fleet-web (suspended
#     with --detach); an approval lets ap go on.
#  D. SIGKILL mid-fleet (in the wait after us's rollout): the resume
#     replays eu and us (nothing of them runs again) and rolls ap.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

for c in eu us ap; do
  bad='{}'
  [[ $c == us ]] && bad='{ "registry/web:v2" }'
  cat >"$T/scenario-$c.lua" <<LUA
return {
  rollout_seconds_per_pod = 1,
  bad_images = $bad,
  namespaces = { "prod" },
  deployments = { { name = "web", namespace = "prod", image = "registry/web:v1", replicas = 2 } },
}
LUA
done

# start_clusters ROUND: three fresh sims (the previous ones stopped first),
# kubeconfigs in $T/kc-NAME; their output in $T/sim-ROUND-NAME.out.
declare -A SIM_OF=()
start_clusters() {
  local c
  for c in "${!SIM_OF[@]}"; do
    kill -TERM "${SIM_OF[$c]}" 2>/dev/null || true
    bg_wait "${SIM_OF[$c]}"
  done
  for c in eu us ap; do
    start_sim "sim-$1-$c" --memory --scenario "$T/scenario-$c.lua" --time-scale 20 \
      --kubeconfig "$T/kc-$c"
    SIM_OF[$c]=$SIM_PID
  done
}

# image NAME: the image of web on cluster NAME.
image() {
  KUBECONFIG=$T/kc-$1 kubectl get -n prod deploy/web -o 'jsonpath={.spec.template.spec.containers[0].image}'
}

# result_py RUN EXPR: a Python expression over d = the run's result.
result_py() {
  "$SUMMIT" result "$1" --json >"$T/result.json" || true
  jq_py "$T/result.json" "$2"
}

command -v kubectl >/dev/null || die "kubectl is needed (the real peer of this test)"
W=$T/wd
cp "$RUNBOOKS/fleet_sim.lua" "$W/"
cat >"$W/summit.lua" <<'LUA'
return {
  clusters = {
    eu = { kubeconfig = "../kc-eu", namespace = "prod" },
    us = { kubeconfig = "../kc-us", namespace = "prod" },
    ap = { kubeconfig = "../kc-ap", namespace = "prod" },
  },
}
LUA
cd "$W"

say "A: max_errors 0: the bad cluster spends the budget, ap never starts"
start_clusters a
sm a run fleet_sim.lua -p image=registry/web:v2 -p trace="$T/trace-a"
expect_rc 1 a "the fleet stops the run"
RUN_A=$(newest_run)
has "$T/a.out" "EFLEET: fleet web stopped: 1 target failed (us), more than max_errors 0; 1 not started" \
  "the error names the failed target, the budget and what did not start"
eq "$(cat "$T/trace-a")" "eu" "only eu finished its rollout"
hasnt "$T/a.out" "target ap" "no step of ap ran"
eq "$(image ap)" "registry/web:v1" "ap is untouched"
# A failed run runs the undo functions of its completed steps: those of
# summit.rollout put eu and us back on v1.
expect_status "$RUN_A" rolled_back "the failed fleet's run"
eq "$(image eu)/$(image us)" "registry/web:v1/registry/web:v1" "eu and us are back on v1"
"$SUMMIT" status "$RUN_A" --json >"$T/a-status.json"
eq "$(jq_py "$T/a-status.json" '[e["name"] for e in d["entries"] if e["name"].startswith("target ")]')" \
  '["target eu", "target us"]' "the journal has a step per started target"
"$SUMMIT" audit export --run "$RUN_A" >"$T/a-audit.jsonl"
py 'import json,sys
recs = [json.loads(l) for l in open(sys.argv[1])]
t = {r["detail"]["target"]: r["detail"] for r in recs if r["action"] == "fleet.target"}
assert t["eu"]["status"] == "succeeded", t
assert t["us"]["status"] == "failed" and t["us"]["error"]["code"] == "ETIMEDOUT", t
assert "ap" not in t, t
f = [r["detail"] for r in recs if r["action"] == "fleet.finished"]
assert len(f) == 1, f
f = f[0]
assert f["status"] == "stopped" and f["failed"] == 1 and f["not_started"] == 1, f
assert [x["status"] for x in f["targets"]] == ["succeeded", "failed", "not_started"], f
' "$T/a-audit.jsonl" || die "audit records of A: $(cat "$T/a-audit.jsonl")"
ok "the audit has fleet.target for eu (succeeded) and us (failed, ETIMEDOUT), fleet.finished: stopped, ap not_started"

say "B: max_errors 1: us's failure is within the budget, ap is rolled"
start_clusters b
sm b run fleet_sim.lua -p image=registry/web:v2 -p max_errors=1 -p trace="$T/trace-b"
expect_rc 0 b "the fleet within its budget"
RUN_B=$(newest_run)
eq "$(tr '\n' ' ' <"$T/trace-b")" "eu ap " "eu and ap finished their rollouts"
eq "$(image ap)" "registry/web:v2" "ap runs v2"
eq "$(image eu)" "registry/web:v2" "eu runs v2"
eq "$(result_py "$RUN_B" '[d["status"], d["succeeded"], d["failed"], d["not_started"]]')" \
  '["completed_with_errors", 2, 1, 0]' "the result: 2 succeeded, 1 failed"

say "C: on_budget pause: the run waits at fleet-web; an approval lets ap go"
start_clusters c
sm c run fleet_sim.lua --detach -p image=registry/web:v2 -p on_budget=pause -p trace="$T/trace-c"
expect_rc 3 c "the run suspends at the gate"
RUN_C=$(newest_run)
eq "$(waiting "$RUN_C" gate)" "fleet-web" "it waits at gate fleet-web"
has "$T/c.out" "1 of 3 targets failed, more than max_errors 0; approve to start the 1 left" "the gate says why"
eq "$(image ap)" "registry/web:v1" "ap untouched while paused"
SUMMIT_USER=alice sm c-approve approve "$RUN_C" --gate fleet-web
expect_rc 0 c-approve "approve the gate"
sm c-resume resume "$RUN_C"
expect_rc 0 c-resume "the resumed fleet goes on"
eq "$(image ap)" "registry/web:v2" "ap was rolled after the approval"
eq "$(tr '\n' ' ' <"$T/trace-c")" "eu ap " "each good target rolled once"
eq "$(result_py "$RUN_C" '[d["status"], d["failed"]]')" '["completed_with_errors", 1]' "result after the pause"

say "D: SIGKILL mid-fleet: the resume does not redo a finished target"
start_clusters d
bg_run d run fleet_sim.lua -p image=registry/web:v3 -p hold=8s -p hold_at=us -p trace="$T/trace-d"
RUN_D=$NEW_RUN
wait_until 60 "eu and us to finish their rollouts" grep -qx us "$T/trace-d"
# us's trace line is written by an exec: kill only once the run holds at
# its sleep, so that exec is completed in the journal and not in flight (an
# effect in flight at a kill rightly runs again).
holding() {
  "$SUMMIT" status "$RUN_D" --json | py 'import json,sys
d = json.load(sys.stdin)
sys.exit(0 if any(e["kind"] == "sleep" and e["state"] == "started" for e in d["entries"]) else 1)'
}
wait_until 60 "the run to hold at us's sleep" holding
kill -KILL "$BG_PID"
bg_wait "$BG_PID"
eq "$RC" 137 "summit was SIGKILLed"
eq "$(image ap)" "registry/web:v1" "ap not started before the kill"
sm d-resume resume "$RUN_D" --json
expect_rc 0 d-resume "the resume finishes the fleet"
eq "$(tr '\n' ' ' <"$T/trace-d")" "eu us ap " "each target's rollout ran exactly once"
eq "$(image ap)" "registry/web:v3" "ap runs v3"
py 'import json,sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
rep = {e["name"] for e in ev if e.get("event") == "step.replayed"}
started = {e["name"] for e in ev if e.get("event") == "step.started"}
assert "target eu" in rep, rep
assert "target eu" not in started and "target ap" in started, started
' "$T/d-resume.out" || die "events of the resume: $(head -c 3000 "$T/d-resume.out")"
ok "target eu replayed (step.replayed), not started again; target ap started"
eq "$(result_py "$RUN_D" '[d["status"], d["succeeded"]]')" '["succeeded", 3]' "all three succeeded"
