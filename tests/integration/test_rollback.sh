#!/usr/bin/env bash
# runbooks/rollback.lua (issue 7, part 3) against `summit sim serve`, with
# the real kubectl making the history and asserting the cluster after every
# run, `summit status --json` the run and `summit audit` its record:
#  1. web at revisions 1-3 (v1, v2, v3, made with kubectl set image): a
#     revision that does not exist (a number, a version) is refused, the
#     message listing the revisions there are, nothing changed.
#  2. revision=1: web runs v1 again (as a new revision 4), the run
#     succeeded, the audit has rollback.started and rollback (from v3 to
#     v1); revision=previous goes back to v3; revision=v2 (a version)
#     finds revision 2.
#  3. blue-green (summit.rollout.blue_green in a test runbook switched api
#     to green on v2): revision=previous switches service/api back to blue.
#  4. a verification that fails after an undo: the run fails (not rolled
#     back: the rollback stays), and a resume with the check fixed
#     succeeds.
#  5. a canary in flight (summit.rollout.canary in a test runbook): the
#     rollback to previous deletes it and gives the stable its replicas.
#  6. without --env, or with -p environment different from --env: refused.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

command -v kubectl >/dev/null || die "kubectl is needed (the real peer of this test)"
ROLLBACK=$(cd "$HERE/../.." && pwd)/runbooks/rollback.lua

cat >"$T/scenario.lua" <<'LUA'
return {
  rollout_seconds_per_pod = 2,
  namespaces = { "prod" },
  deployments = {
    { name = "web", namespace = "prod", image = "registry/web:v1", replicas = 3 },
    { name = "solo", namespace = "prod", image = "registry/solo:v1", replicas = 1 },
    { name = "lone-blue", namespace = "prod", image = "registry/lone:v1", replicas = 1,
      labels = { app = "lone", color = "blue" } },
    { name = "api-blue", namespace = "prod", image = "registry/api:v1", replicas = 2,
      labels = { app = "api", color = "blue" }, container = "api" },
  },
  services = {
    { name = "api", namespace = "prod", selector = { app = "api", color = "blue" }, port = 80 },
    { name = "lone", namespace = "prod", selector = { app = "lone", color = "blue" }, port = 80 },
  },
}
LUA
start_sim sim --memory --scenario "$T/scenario.lua" --time-scale 50 --kubeconfig "$T/kubeconfig"

W=$T/wd
cp "$RUNBOOKS"/rb_*.lua "$W"/
cat >"$W/summit.lua" <<'LUA'
return {
  environments = { prod = { cluster = "k", namespace = "prod", app = "web" } },
  -- The deploy runbook's role "production" is the environment prod here.
  defaults = { release = { environments = { production = "prod" } } },
  clusters = { k = { kubeconfig = "../kubeconfig" } },
  commands = {
    smoke = { "python3", "-c", "import sys; sys.exit(0)" },
    -- Passes once the file 'smoke-ok' exists in the working directory.
    smoke_gated = { "python3", "-c", "import os, sys; sys.exit(0 if os.path.exists('smoke-ok') else 3)" },
  },
}
LUA
cd "$W"

web_image() { kget prod deploy/web '{.spec.template.spec.containers[0].image}'; }
# The detail of the run's `rollback` record: mode from to.
rollback_record() {
  audit_of "$1"
  py 'import json,sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["action"] == "rollback":
        d = r["detail"]
        print(d["mode"], d["from"], d["to"], d.get("revision", "-"), d.get("reason", ""))' "$T/audit.jsonl"
}

# The application's health endpoint (the test HTTP server's /ok).
start_http_server
HEALTH=$URL/ok

say "a history of three revisions, made with kubectl"
for v in v2 v3; do
  k set -n prod set image deploy/web "web=registry/web:$v"
  krc 0 set "kubectl set image web=$v"
  k wait -n prod rollout status deploy/web --timeout=60s
  krc 0 wait "kubectl rollout status after $v"
done
eq "$(web_image)" registry/web:v3 "web runs v3"
k hist -n prod rollout history deploy/web
krc 0 hist "kubectl rollout history"
has_num "$T/hist.out" 3 "revision 3 is in kubectl's history"

say "a revision that does not exist is refused, listing the ones that do"
sm nonum run "$ROLLBACK" --env prod -p revision=7
expect_rc 1 nonum "rollback to revision 7"
has "$T/nonum.out" "deployment/web has no revision 7; revisions: 1 (registry/web:v1); 2 (registry/web:v2); 3 (registry/web:v3, current)" \
  "the error lists the revisions and their images"
expect_status "$(newest_run)" failed "the refused rollback"
sm nover run "$ROLLBACK" --env prod -p revision=v9.9.9
expect_rc 1 nover "rollback to version v9.9.9"
has "$T/nover.out" "deployment/web has no revision running 'v9.9.9'; revisions: 1 (registry/web:v1)" \
  "a version that never ran is refused the same way"
eq "$(web_image)" registry/web:v3 "web still runs v3: nothing was changed"
sm solo run "$ROLLBACK" --env prod -p deployment=solo
expect_rc 1 solo "rollback of a deployment that has one revision"
has "$T/solo.out" "deployment/solo has no revision before the current one; revisions: 1 (registry/solo:v1, current)" \
  "refused: nothing before the current revision"

say "rollback to revision 1"
sm to1 run "$ROLLBACK" --env prod -p revision=1 -p reason="v3 breaks logins" -p checks=smoke \
  -p health_url="$HEALTH"
expect_rc 0 to1 "rollback to revision 1"
R1=$(newest_run)
expect_status "$R1" succeeded "the rollback to revision 1"
eq "$(web_image)" registry/web:v1 "web runs v1 again (kubectl)"
eq "$(kget prod deploy/web '{.status.updatedReplicas}/{.status.readyReplicas}/{.spec.replicas}')" 3/3/3 \
  "all 3 replicas updated and ready"
eq "$(kget prod deploy/web '{.metadata.annotations.deployment\.kubernetes\.io/revision}')" 4 \
  "revision 1's template is now revision 4, as kubectl rollout undo does"
eq "$(rollback_record "$R1")" "undo registry/web:v3 registry/web:v1 1 v3 breaks logins" \
  "the audit's rollback record: undo from v3 to v1, revision 1, the reason"
has "$T/audit.jsonl" '"action":"rollback.started"' "the audit has rollback.started"
has "$T/audit.jsonl" '"name":"smoke"' "the configured smoke check ran and is audited"
has "$T/audit.jsonl" '"name":"verify: health"' "the health check ran and is audited"
hits=$(py 'import json,sys,urllib.request
print(json.load(urllib.request.urlopen(sys.argv[1]))["hits"].get("/ok", 0))' "${HEALTH%/ok}/stats")
eq "$hits" 1 "the health endpoint was asked once"
hasnt "$T/audit.jsonl" '"action":"approval.requested"' "no approval gate: a rollback is fast"
has "$T/to1.out" "notify: rolled back web in prod: registry/web:v3 -> registry/web:v1 (undo): v3 breaks logins" \
  "the notification (logged: no channels in this summit.lua)"
audit_verify "after the rollback to 1"

say "rollback to the previous revision"
sm prev run "$ROLLBACK" --env prod
expect_rc 0 prev "rollback to previous"
R2=$(newest_run)
expect_status "$R2" succeeded "the rollback to previous"
eq "$(web_image)" registry/web:v3 "web runs v3 again (the revision before the current one)"
eq "$(rollback_record "$R2")" "undo registry/web:v1 registry/web:v3 3 " "audited: undo from v1 to v3 (revision 3)"

say "rollback to a version"
sm ver run "$ROLLBACK" --env prod -p environment=prod -p revision=v2
expect_rc 0 ver "rollback to v2"
eq "$(web_image)" registry/web:v2 "web runs v2 (found by its tag)"
eq "$(rollback_record "$(newest_run)")" "undo registry/web:v3 registry/web:v2 2 " "audited: undo to revision 2"

say "blue-green: a deploy switched api to green; rollback switches back"
sm bg run rb_bluegreen.lua --env prod -p image=registry/api:v2
expect_rc 0 bg "blue-green deploy of api v2"
eq "$(kget prod svc/api '{.spec.selector.color}')" green "service/api selects green after the deploy"
sm bgback run "$ROLLBACK" --env prod -p deployment=api
expect_rc 0 bgback "rollback of api"
R3=$(newest_run)
expect_status "$R3" succeeded "the blue-green rollback"
eq "$(kget prod svc/api '{.spec.selector.color}')" blue "service/api selects blue again (kubectl)"
eq "$(kget prod deploy/api-blue '{.spec.template.spec.containers[0].image}/{.status.readyReplicas}')" registry/api:v1/2 \
  "api-blue runs v1 with its 2 replicas ready"
eq "$(kget prod deploy/api-green '{.spec.template.spec.containers[0].image}')" registry/api:v2 \
  "api-green is left running v2 (switching again is instant)"
eq "$(rollback_record "$R3")" "switch_back registry/api:v2 registry/api:v1 - " \
  "audited: switch_back from v2 to v1"
sm bgnone run "$ROLLBACK" --env prod -p deployment=api -p revision=v7
expect_rc 1 bgnone "a blue-green rollback to a version no color runs"
has "$T/bgnone.out" "blue-green api: no color runs 'v7'; api-blue (active) runs registry/api:v1, api-green runs registry/api:v2" \
  "refused, naming what each color runs"
sm bgnum run "$ROLLBACK" --env prod -p deployment=api -p revision=2
expect_rc 1 bgnum "a blue-green rollback to a revision number"
has "$T/bgnum.out" "(a blue-green pair has colors, not revision numbers: give previous or a version)" \
  "refused, saying what to give instead"
eq "$(kget prod svc/api '{.spec.selector.color}')" blue "service/api unchanged"
sm lone run "$ROLLBACK" --env prod -p deployment=lone
expect_rc 1 lone "a blue-green rollback with no other color"
has "$T/lone.out" "blue-green lone: service/lone selects blue, and lone-green does not exist: nothing to switch back to" \
  "refused, saying the other color does not exist"

say "a verification that fails leaves the rollback in place; resume checks again"
sm vfail run "$ROLLBACK" --env prod -p revision=v3 -p checks=smoke_gated
expect_rc 1 vfail "rollback whose check fails"
R4=$(newest_run)
expect_status "$R4" failed "the unverified rollback (failed, not rolled_back)"
eq "$(web_image)" registry/web:v3 "web stays on v3: a rollback is not rolled back"
touch smoke-ok
sm vresume resume "$R4"
expect_rc 0 vresume "resume once the check passes"
expect_status "$R4" succeeded "the resumed rollback"
eq "$(rollback_record "$R4")" "undo registry/web:v2 registry/web:v3 5 " "audited once verified (v3 is revision 5 by now)"
eq "$(web_image)" registry/web:v3 "web runs v3"

say "a canary in flight: rollback to previous removes it, the stable stays"
sm can run rb_canary.lua --env prod -p image=registry/web:v4
expect_rc 0 can "a canary of v4 at 33%"
eq "$(kget prod deploy/web-canary '{.spec.replicas}')" 1 "web-canary has 1 replica (kubectl)"
eq "$(kget prod deploy/web '{.spec.replicas}')" 2 "web has 2"
sm cback run "$ROLLBACK" --env prod
expect_rc 0 cback "rollback with a canary in flight"
R5=$(newest_run)
expect_status "$R5" succeeded "the canary rollback"
k gone -n prod get deploy/web-canary
krc 1 gone "web-canary is gone (kubectl get fails)"
has "$T/gone.err" "NotFound" "kubectl says NotFound"
eq "$(kget prod deploy/web '{.spec.template.spec.containers[0].image}/{.spec.replicas}/{.status.readyReplicas}')" \
  registry/web:v3/3/3 "web keeps v3 and has its 3 replicas back, ready"
eq "$(rollback_record "$R5")" "abort_canary registry/web:v4 registry/web:v3 7 " "audited: the canary v4 aborted"

say "the environment must be given, and agree"
sm noenv run "$ROLLBACK"
expect_rc 2 noenv "rollback without an environment"
has "$T/noenv.err" "give the environment to roll back: -p environment=NAME (or --env NAME)" "it asks for one"
sm envdiff run "$ROLLBACK" --env prod -p environment=staging
expect_rc 1 envdiff "-p environment differs from --env"
has "$T/envdiff.out" "-p environment=staging is staging, but --env prod" "the mismatch is named"
sm nocmd run "$ROLLBACK" -p environment=prod -p checks=smoke,nope
expect_rc 1 nocmd "a check that summit.lua does not define"
has "$T/nocmd.out" "-p checks names 'nope', which summit.lua's commands do not define" \
  "refused before anything is done"
eq "$(web_image)" registry/web:v3 "web unchanged"
sm byparam run "$ROLLBACK" -p environment=production -p revision=v2
expect_rc 0 byparam "rollback by -p environment=production (no --env): the role maps to summit.lua's prod"
eq "$(web_image)" registry/web:v2 "web runs v2"
eq "$(rollback_record "$(newest_run)")" "undo registry/web:v3 registry/web:v2 6 " "audited"
audit_verify "at the end"

cd "$T"
stop_sim sim
