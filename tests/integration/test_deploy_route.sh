#!/usr/bin/env bash
# runbooks/deploy.lua with a traffic router (issue 18): the canary and
# production environments route through the Gateway API HTTPRoute web, as
# examples/summit.lua configures it, on `summit sim serve` with the real
# kubectl:
#  - the canary at 5% is the HTTPRoute's weight (web-stable 95, web-canary
#    5), each weight set is an audit record;
#  - its analysis measures a canary serving about 5% of the requests (the
#    watched metric `traffic`, within 0.2 points) while 1 canary pod runs
#    next to 20 stable ones (the stable keeps its 20 replicas: the route,
#    not the replica ratio, splits the traffic);
#  - production's progressive 10 -> 50 -> 100 and the promotion go through
#    the same route, which ends at 100/0 with web-stable selecting the 20
#    new pods.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
ROUTE='route = { gateway = "httproute/web" },'
source "$RUNBOOKS/deploy_setup.sh"

cat >"$T/route.yaml" <<'YAML'
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: summit-production}
spec:
  parentRefs: [{name: gateway}]
  rules:
  - backendRefs: [{name: web-stable, port: 80}]
YAML
k route apply -f "$T/route.yaml"
krc 0 route "kubectl apply the HTTPRoute"

say "deploy v2.0.0 through the HTTPRoute"
GATES=([canary]="alice" [production]="alice bob")
drive dep run deploy -p version=v2.0.0 -p skip=checklist,prepare,staging,verify "${FAST[@]}"
expect_rc 0 dep "the deploy"
run=$DRIVEN_RUN
expect_status "$run" succeeded "the run"
has "$T/dep.out" "canary web 5%: route 5%" "the canary's 5% went to the route"
has "$T/dep.out" "canary web 5%: web at 20 replicas" "the stable kept its 20 replicas"
"$SUMMIT" audit export --run "$run" 2>/dev/null >"$T/audit.jsonl"
weights=$(py 'import json,sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["action"] == "rollout.route":
        w = r["detail"]["weights"]
        print("%s:%d/%d" % (r["detail"]["route"], w["web-stable"], w["web-canary"]), end=" ")' "$T/audit.jsonl")
eq "$weights" "httproute/web:95/5 httproute/web:90/10 httproute/web:50/50 httproute/web:0/100 httproute/web:100/0 " \
  "audit: every weight the deploy set (canary 5, production 10, 50, 100, then 0 once promoted)"
share=$(py 'import json,sys
vals = []
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["action"] == "canary.measurement" and r["detail"]["analysis"] == "web v2.0.0":
        vals += [m["value"] for m in r["detail"]["measurements"] if m["metric"] == "traffic"]
print(" ".join("%.2f" % v for v in vals))' "$T/audit.jsonl")
[[ -n $share ]] || die "the analysis measured no traffic share"
for v in $share; do
  py 'import sys; sys.exit(0 if abs(float(sys.argv[1]) - 5) <= 0.2 else 1)' "$v" ||
    die "the analysis measured a canary with $v% of the requests, not about 5%"
done
ok "the canary analysis measured a canary with about 5% of the requests: $share"
eq "$(kget summit-production httproute/web '{range .spec.rules[0].backendRefs[*]}{.name}={.weight} {end}')" \
  "web-stable=100 web-canary=0 " "the HTTPRoute ends at 100/0"
eq "$(kget summit-production deploy/web '{.spec.template.spec.containers[0].image}/{.status.readyReplicas}')" \
  registry/web:v2.0.0/20 "web runs v2.0.0 on 20 ready pods"
sel=$(kget summit-production svc/web-stable '{.spec.selector.pod-template-hash}')
k pods -n summit-production get pods -l "app=web,pod-template-hash=$sel" -o name
eq "$(grep -c . "$T/pods.out")" 20 "web-stable selects the 20 new pods"
k nocanary -n summit-production get deploy/web-canary
krc 1 nocanary "the canary Deployment is gone"
audit_verify

cd "$T"
stop_sim sim
