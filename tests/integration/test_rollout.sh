#!/usr/bin/env bash
# summit.rollout (issue 7, stdlib) against `summit sim serve`, with the real
# kubectl asserting the cluster after every run:
#  1. blue-green: api-green created next to api-blue, the Service switched;
#     switch_back; a failing step after a switch restores the selector and
#     the green Deployment's previous image (run rolled_back).
#  2. canary at 5% of 20 replicas: web-canary 1 (track=canary), web 19; a
#     failing analysis at 25% goes back to 1/19; 25% with a route hook
#     writes the weight annotation, its undo removes it; an Ingress route
#     goes to networking.k8s.io (no such Ingress: rolled back); abort;
#     status; a canary at 25% whose
#     summit.canary analysis fails on the sim's metrics (3% errors on the
#     canary image) is rolled back, production untouched.
#  3. progressive 10/50/100 killed (SIGKILL) in the pause at 50%: the
#     cluster is at 50%, the resume replays 10% and continues at 50%
#     (every mutation ran once), then promotes.
#  4. progressive failing at 50%, or cancelled with --rollback at 10%:
#     undo back to the previous image, 20
#     replicas, no canary. rolling to an image that never becomes ready:
#     the wait fails and the undo puts the previous image back.
#  5. misuse raises at once naming the argument (exit 1, file:line).
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

command -v kubectl >/dev/null || die "kubectl is needed (the real peer of this test)"

cat >"$T/scenario.lua" <<'LUA'
return {
  rollout_seconds_per_pod = 2,
  bad_images = { "registry/*:broken" },
  namespaces = { "prod" },
  deployments = {
    { name = "web", namespace = "prod", image = "registry/web:v1", replicas = 20 },
    { name = "api-blue", namespace = "prod", image = "registry/api:v1", replicas = 3,
      labels = { app = "api", color = "blue" }, container = "api" },
  },
  services = {
    { name = "web", namespace = "prod", selector = { app = "web" }, port = 80 },
    { name = "api", namespace = "prod", selector = { app = "api", color = "blue" }, port = 80 },
  },
  configmaps = { { name = "web-route", namespace = "prod", data = { note = "route hook carrier" } } },
  metrics = { requests_per_second = 50, variation = 0,
              images = { ["registry/web:v2-errors"] = { error_rate = 0.03 } } },
}
LUA
# -v: the sim logs every request (the route hook's Ingress path is checked).
start_sim sim --memory --scenario "$T/scenario.lua" --time-scale 50 --kubeconfig "$T/kubeconfig" -v

W=$T/wd
cp "$RUNBOOKS"/rollout_*.lua "$W"/
cat >"$W/summit.lua" <<'LUA'
return {
  environments = { prod = { cluster = "k", namespace = "prod" } },
  clusters = { k = { kubeconfig = "../kubeconfig" } },
  metrics = { url = os.getenv("SIM_URL") },
}
LUA
export SIM_URL=$URL
cd "$W"

# count_pods SELECTOR: pods matching it.
count_pods() {
  k pods -n prod get pods -l "$1" -o name
  grep -c . "$T/pods.out" || true
}

say "blue-green: deploy the green color and switch the Service"
sm bg run rollout_bg.lua --env prod -p image=registry/api:v2
expect_rc 0 bg "blue_green"
eq "$(kget prod deploy/api-green '{.spec.template.spec.containers[0].image}')" registry/api:v2 "api-green runs v2"
eq "$(kget prod deploy/api-green '{.status.readyReplicas}')" 3 "api-green has the blue's 3 replicas, ready"
eq "$(kget prod deploy/api-green '{.spec.template.metadata.labels.color}')" green "api-green's pods are color=green"
eq "$(kget prod deploy/api-green '{.spec.selector.matchLabels.color}')" green "api-green selects color=green"
eq "$(kget prod svc/api '{.spec.selector.color}')" green "service/api now selects color=green"
eq "$(kget prod svc/api '{.spec.selector.app}')" api "and still app=api"
eq "$(kget prod deploy/api-blue '{.spec.template.spec.containers[0].image}/{.spec.replicas}')" registry/api:v1/3 \
  "api-blue is kept as it was, for a switch back"
eq "$(count_pods color=green)" 3 "3 green pods"

say "blue-green: switch back"
sm back run rollout_bg.lua --env prod -p action=back
expect_rc 0 back "switch_back"
eq "$(kget prod svc/api '{.spec.selector.color}')" blue "service/api selects color=blue again"
has "$T/back.out" "switch service/api to color=blue" "the step says what it switched"
sm status run rollout_bg.lua --env prod -p action=status
expect_rc 0 status "rollout.status"
st=$(sed -n 's/^ *info RESULT //p' "$T/status.out" | py 'import json,sys
d = json.load(sys.stdin)
print(d["color"], d["active"]["image"], d["active"]["ready"], d.get("stable"), d.get("canary"))')
eq "$st" "blue registry/api:v1 3 None None" "status: color blue, api-blue on v1 with 3 ready, no stable/canary pair"

say "blue-green: a failing step after the switch runs the undo path"
sm bgfail run rollout_bg.lua --env prod -p image=registry/api:v3 -p fail=true
expect_rc 1 bgfail "a deploy whose smoke test fails"
run=$(newest_run)
expect_status "$run" rolled_back "the failed blue-green deploy"
has "$T/bgfail.out" "undo blue-green api: saved state" "the undo step ran"
eq "$(kget prod svc/api '{.spec.selector.color}')" blue "service/api selects blue again, as before the run"
eq "$(kget prod deploy/api-green '{.spec.template.spec.containers[0].image}')" registry/api:v2 \
  "api-green is back on the image it had before the run (v2, not v3)"
eq "$(kget prod deploy/api-blue '{.spec.template.spec.containers[0].image}')" registry/api:v1 "api-blue untouched"

say "canary at 5%: the replica ratio"
sm c5 run rollout_canary.lua --env prod -p weight=5
expect_rc 0 c5 "canary 5%"
eq "$(kget prod deploy/web-canary '{.spec.replicas}/{.status.readyReplicas}')" 1/1 "web-canary: 1 replica, ready"
eq "$(kget prod deploy/web '{.spec.replicas}')" 19 "web (stable): 19 replicas, 1/20 = 5%"
eq "$(kget prod deploy/web-canary '{.spec.template.spec.containers[0].image}')" registry/web:v2 "the canary runs v2"
eq "$(kget prod deploy/web '{.spec.template.spec.containers[0].image}')" registry/web:v1 "the stable still runs v1"
eq "$(kget prod deploy/web-canary '{.spec.template.metadata.labels.track}')" canary "canary pods are track=canary"
eq "$(kget prod deploy/web-canary '{.spec.template.metadata.labels.app}')" web "and app=web, so service/web sends them traffic"
eq "$(count_pods app=web,track=canary)" 1 "1 canary pod"
eq "$(count_pods app=web,'!track')" 19 "19 stable pods"
st=$(sed -n 's/^ *info RESULT //p' "$T/c5.out" | py 'import json,sys
d = json.load(sys.stdin)
print(d["weight"], d["canary"]["image"], d["canary"]["ready"], d["stable"]["image"], d["stable"]["ready"])')
eq "$st" "5 registry/web:v2 1 registry/web:v1 19" "rollout.status: weight 5, 1 canary pod on v2, 19 stable on v1"

say "canary at 25% whose analysis fails: back to 5%"
sm c25 run rollout_canary.lua --env prod -p weight=25 -p after=fail
expect_rc 1 c25 "canary 25% with a failing analysis"
expect_status "$(newest_run)" rolled_back "the canary run"
has "$T/c25.out" "web-canary at 5 of 20 replicas" "it went to 5 of 20"
eq "$(kget prod deploy/web-canary '{.spec.replicas}')" 1 "web-canary back to 1"
eq "$(kget prod deploy/web '{.spec.replicas}')" 19 "web back to 19"

say "abort: the stable whole again, no canary"
sm abort run rollout_canary.lua --env prod -p weight=25 -p after=abort
expect_rc 0 abort "abort"
eq "$(kget prod deploy/web '{.spec.replicas}/{.status.readyReplicas}')" 20/20 \
  "the stable back to the total it found (15 + 5)"
k nocanary -n prod get deploy/web-canary
krc 1 nocanary "web-canary is gone"
eq "$(kget prod deploy/web '{.spec.template.spec.containers[0].image}')" registry/web:v1 "the stable still runs v1"

say "canary with a route hook: the weight annotation, and its undo"
sm route run rollout_canary.lua --env prod -p weight=25 -p route=annotation -p after=fail
expect_rc 1 route "canary 25% with a route, then a failure"
has "$T/route.out" "route 25%" "the route step ran"
eq "$(kget prod cm/web-route "{.metadata.annotations['example\.com/canary-weight']}")" "" \
  "the undo removed the annotation the route set"
k nocanary -n prod get deploy/web-canary
krc 1 nocanary "the undo deleted the canary it created"
sm route2 run rollout_canary.lua --env prod -p weight=25 -p route=annotation
expect_rc 0 route2 "canary 25% with a route"
eq "$(kget prod cm/web-route "{.metadata.annotations['example\.com/canary-weight']}")" 25 "the route carries weight 25"
eq "$(kget prod deploy/web-canary '{.spec.replicas}')" 5 "web-canary at ceil(20 x 25%) = 5"
eq "$(kget prod deploy/web '{.spec.replicas}')" 20 "the stable keeps its 20 replicas when a route splits traffic"
sm ing run rollout_canary.lua --env prod -p weight=10 -p route=ingress
expect_rc 1 ing "a route on an Ingress that is not there"
has "$T/sim.err" "PATCH /apis/networking.k8s.io/v1/namespaces/prod/ingresses/web-canary" \
  "the route patch went to the Ingress's API path"
expect_status "$(newest_run)" rolled_back "the run whose route failed"
eq "$(kget prod deploy/web-canary '{.spec.replicas}')" 5 "the canary is back at 5 (the 25% the run found)"
sm route3 run rollout_canary.lua --env prod -p weight=25 -p route=annotation -p after=abort
expect_rc 0 route3 "abort with a route"
eq "$(kget prod cm/web-route "{.metadata.annotations['example\.com/canary-weight']}")" 0 "route weight 0"
eq "$(kget prod deploy/web '{.spec.replicas}')" 20 "web at 20"
k nocanary -n prod get deploy/web-canary
krc 1 nocanary "web-canary is gone"

say "a canary whose analysis fails on the sim's metrics is rolled back"
sm analysis run rollout_analysis.lua --env prod
expect_rc 1 analysis "a canary with a 3% error rate"
expect_status "$(newest_run)" rolled_back "the canary run"
has "$T/analysis.out" "canary failed: critical metric 'error_rate' failed" "the verdict failed the run"
has "$T/analysis.out" "> max 0.01" "on the canary pods' error rate (3% in the sim)"
has "$T/analysis.out" "web-canary at 5 of 20 replicas" "the canary had 25%"
eq "$(kget prod deploy/web '{.spec.replicas}/{.status.readyReplicas}')" 20/20 "web back to 20"
eq "$(kget prod deploy/web '{.spec.template.spec.containers[0].image}')" registry/web:v1 "production untouched: v1"
k nocanary -n prod get deploy/web-canary
krc 1 nocanary "the canary is gone"

say "progressive 10/50/100: SIGKILL in the pause at 50%, then resume"
bg_run prog run rollout_progressive.lua --env prod -p pause=4s --json
run=$NEW_RUN
# Key 3 is the 50% step; 3/5 its pause (a durable sleep).
wait_until 60 "the pause at 50%" journal_has "$run" 3/5 started
kill -9 "$BG_PID"
bg_wait "$BG_PID"
eq "$RC" 137 "summit was killed during the pause at 50%"
eq "$(kget prod deploy/web-canary '{.spec.replicas}')" 10 "the cluster is at 50%: web-canary 10"
eq "$(kget prod deploy/web '{.spec.replicas}')" 10 "and web 10"
sm resume resume "$run" --json
expect_rc 0 resume "the resumed progressive rollout"
expect_status "$run" succeeded "the progressive run"
has "$T/resume.out" '"event":"step.replayed","ts"' "the resume replays"
replayed=$(py 'import json,sys
keys = []
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e.get("event") == "step.replayed": keys.append(e["key"])
print(" ".join(keys))' "$T/resume.out")
[[ " $replayed " == *" 2 "* ]] || die "the 10% step (key 2) was not replayed: $replayed"
ok "the 10% step was replayed, not run"
[[ " $replayed " == *" 3/1 "* ]] || die "the 50% canary scale (3/1) was not replayed: $replayed"
ok "inside the 50% step, the scale done before the kill was replayed"
for key in 2/1 2/3 3/1 3/3; do
  eq "$(started_rows "$run" "$key")" 1 "step $key ($(entry_field "$run" "$key" name)) ran once"
done
eq "$(started_rows "$run" 4/1)" 1 "the 100% step ran after the resume"
eq "$(kget prod deploy/web '{.spec.template.spec.containers[0].image}')" registry/web:v2 "promoted: web runs v2"
eq "$(kget prod deploy/web '{.spec.replicas}/{.status.readyReplicas}')" 20/20 "web at 20 replicas, ready"
k nocanary2 -n prod get deploy/web-canary
krc 1 nocanary2 "web-canary deleted after promotion"

say "progressive failing at 50%: undo back to the previous image"
sm pfail run rollout_progressive.lua --env prod -p image=registry/web:v3 -p pause=0s -p fail_at=50
expect_rc 1 pfail "a progressive rollout whose check fails at 50%"
expect_status "$(newest_run)" rolled_back "the failed progressive run"
has "$T/pfail.out" "error rate too high at 50%" "the check's error"
hasnt "$T/pfail.out" "progressive web 100%" "it never went to 100%"
eq "$(kget prod deploy/web '{.spec.template.spec.containers[0].image}')" registry/web:v2 "web runs v2 again"
eq "$(kget prod deploy/web '{.spec.replicas}/{.status.readyReplicas}')" 20/20 "web at 20 replicas again"
k nocanary3 -n prod get deploy/web-canary
krc 1 nocanary3 "the canary the run created is deleted"

say "summit cancel --rollback during a progressive rollout"
bg_run cprog run rollout_progressive.lua --env prod -p image=registry/web:v3 -p pause=20s --json
run=$NEW_RUN
wait_until 60 "the pause at 10%" journal_has "$run" 2/5 started
eq "$(kget prod deploy/web-canary '{.spec.replicas}')" 2 "web-canary at 10%: 2"
sm cancel cancel "$run" --rollback
bg_wait "$BG_PID"
expect_status "$run" rolled_back "the cancelled progressive rollout"
eq "$(kget prod deploy/web '{.spec.template.spec.containers[0].image}')" registry/web:v2 "web runs v2 (not v3)"
eq "$(kget prod deploy/web '{.spec.replicas}/{.status.readyReplicas}')" 20/20 "web at 20 replicas"
k nocanary4 -n prod get deploy/web-canary
krc 1 nocanary4 "the canary is deleted"

say "rolling: an image that never becomes ready is rolled back"
sm broken run rollout_rolling.lua --env prod -p image=registry/web:broken -p timeout=3s
expect_rc 1 broken "rolling to a broken image"
expect_status "$(newest_run)" rolled_back "the failed rolling update"
has "$T/broken.out" "ETIMEDOUT" "the wait timed out"
eq "$(kget prod deploy/web '{.spec.template.spec.containers[0].image}')" registry/web:v2 "web back on v2"
eq "$(kget prod deploy/web '{.status.readyReplicas}/{.status.updatedReplicas}')" 20/20 "all 20 pods ready on v2"
sm v4 run rollout_rolling.lua --env prod -p image=registry/web:v4
expect_rc 0 v4 "rolling to v4"
eq "$(kget prod deploy/web '{.spec.template.spec.containers[0].image}')" registry/web:v4 "web runs v4"

say "misuse raises at once, naming the argument"
sm bad1 run rollout_bad.lua --env prod -p case=weight
expect_rc 1 bad1 "weight 150"
has "$T/bad1.out" "rollout_bad.lua:9: rollout.canary: bad argument 'weight' (a percentage from 0 to 100 expected, got 150)" "weight named, at the runbook's line"
sm bad2 run rollout_bad.lua --env prod -p case=steps
expect_rc 1 bad2 "decreasing steps"
has "$T/bad2.out" "rollout_bad.lua:11: rollout.progressive: bad argument 'steps' (weights must increase)" "steps named"
sm bad3 run rollout_bad.lua --env prod -p case=name
expect_rc 1 bad3 "a Service as the deployment"
has "$T/bad3.out" "rollout.blue_green: bad argument 'name'" "name named"
eq "$(kget prod deploy/web '{.spec.template.spec.containers[0].image}')" registry/web:v4 "misuse changed nothing"

cd "$T"
stop_sim sim
