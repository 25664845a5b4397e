#!/usr/bin/env bash
# summit.rollout's built-in traffic routers (issue 18) against `summit sim
# serve`, the route objects written and read with the real kubectl, and
# the sim's traffic generator measuring where the requests go:
#  1. kubectl lists and applies HTTPRoutes, VirtualServices, Ingresses and
#     TrafficSplits (discovery); a bad weight is refused (422); a route
#     the scenario seeds takes a JSON patch into its lists.
#  2. gateway: the canary at 5, 25 and 100% sets the HTTPRoute's
#     backendRef weights; web-stable and web-canary select only their own
#     pods by pod-template hash; the share of http_requests_total on the
#     canary pods is the weight within 0.5 percentage points (requests are
#     whole numbers; the sim's waves are off here, variation = 0); each
#     weight is an audit record; promote sends everything back to the
#     stable Service, which now selects the new pods; a failure after a
#     canary restores the weights and Services it found.
#  3. istio: no VirtualService yet (ENOTFOUND); one with FQDN hosts, 5%
#     (a canary image answering 3% with 500: each track's error rate is its
#     own, whatever its share), then abort.
#  4. nginx: a managed canary Ingress with ingress-nginx's canary
#     annotations; the undo of a first canary deletes it; abort sets 0.
#  5. smi: a TrafficSplit that does not send to web-stable (EINVALID); one
#     that does, through a progressive 25 -> 50 -> 100 killed (SIGKILL) in
#     its pause at 50%, resumed: every weight set and audited once, then
#     the promotion.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

command -v kubectl >/dev/null || die "kubectl is needed (the real peer of this test)"

cat >"$T/scenario.lua" <<'LUA'
return {
  rollout_seconds_per_pod = 1,
  namespaces = { "prod" },
  deployments = {
    { name = "web", namespace = "prod", image = "registry/web:v1", replicas = 20, port = 8080 },
  },
  services = { { name = "web", namespace = "prod", selector = { app = "web" }, port = 80, target_port = 8080 } },
  -- A route the scenario seeds (to nothing: it carries no traffic).
  objects = { { apiVersion = "gateway.networking.k8s.io/v1", kind = "HTTPRoute",
                metadata = { name = "seeded", namespace = "prod" },
                spec = { rules = { { backendRefs = { { name = "nothing", port = 80 } } } } } } },
  metrics = { requests_per_second = 10, variation = 0, error_rate = 0.001,
              images = { ["registry/web:*-errors"] = { error_rate = 0.03 } } },
}
LUA
start_sim sim --memory --scenario "$T/scenario.lua" --time-scale 50 --kubeconfig "$T/kubeconfig"

sim_workdir rollout_router.lua

# canary_share: the percentage of the last simulated minute's requests in
# namespace prod that canary pods served, once that minute is after the
# last change (time scale 50: 1.2 s real).
canary_share() {
  sleep 2
  curl -fsS "$URL/api/v1/query" --data-urlencode \
    'query=sum by (track) (increase(http_requests_total{namespace="prod"}[1m]))' | py 'import json,sys
d = {r["metric"]["track"]: float(r["value"][1]) for r in json.load(sys.stdin)["data"]["result"]}
total = sum(d.values())
print("%.2f" % (100 * d.get("canary", 0) / total))'
}

# share_near WANT WHAT: the canary's share is WANT +- 0.5 points.
share_near() {
  local got
  got=$(canary_share)
  py 'import sys
got, want = float(sys.argv[1]), float(sys.argv[2])
sys.exit(0 if abs(got - want) <= 0.5 else 1)' "$got" "$1" || die "$2: canary share $got%, expected $1% +- 0.5"
  ok "$2: the canary pods served $got% of the requests"
}

# selected SERVICE: how many pods its selector matches.
selected() {
  local sel
  sel=$(kget prod "svc/$1" '{.spec.selector}' | py 'import json,sys
print(",".join("%s=%s" % kv for kv in sorted(json.load(sys.stdin).items())))')
  k sel -n prod get pods -l "$sel" -o name
  grep -c . "$T/sel.out" || true
}

say "1. kubectl serves the route kinds"
cat >"$T/routes.yaml" <<'YAML'
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: prod}
spec:
  parentRefs: [{name: gateway}]
  hostnames: [web.example.com]
  rules:
  - backendRefs: [{name: web-stable, port: 80}]
YAML
k apply apply -f "$T/routes.yaml"
krc 0 apply "kubectl apply an HTTPRoute"
has "$T/apply.out" "httproute.gateway.networking.k8s.io/web created" "created in its group"
k get -n prod get httproute
krc 0 get "kubectl get httproute"
has "$T/get.out" "web.example.com" "the table shows its hostnames"
k badw -n prod patch httproute web --type=merge \
  -p '{"spec":{"rules":[{"backendRefs":[{"name":"web-stable","weight":-1}]}]}}'
krc 1 badw "a negative weight"
has "$T/badw.err" "spec.rules[0].backendRefs[0].weight: Invalid value: -1" "refused, naming the field"
k seeded -n prod patch httproute seeded --type=json -p '[{"op":"add","path":"/spec/rules/0/backendRefs/0/weight","value":3}]'
krc 0 seeded "a JSON patch indexes the lists of a route the scenario seeded"
eq "$(kget prod httproute/seeded '{.spec.rules[0].backendRefs[0].weight}')" 3 "its weight is set"

say "2. gateway: the canary at 5, 25 and 100%"
sm g5 run rollout_router.lua --env prod -p router=gateway -p weight=5
expect_rc 0 g5 "canary 5% through the HTTPRoute"
eq "$(kget prod httproute/web '{range .spec.rules[0].backendRefs[*]}{.name}={.weight} {end}')" \
  "web-stable=95 web-canary=5 " "the HTTPRoute's weights: 95 stable, 5 canary (its backendRef added)"
[[ $(kget prod svc/web-stable '{.spec.selector.pod-template-hash}') =~ ^[0-9a-f]+$ ]] ||
  die "web-stable has no pod-template-hash in its selector"
ok "web-stable selects by pod-template hash"
eq "$(selected web-stable)" 20 "web-stable selects the 20 stable pods only"
eq "$(selected web-canary)" 1 "web-canary selects the 1 canary pod only"
eq "$(kget prod deploy/web '{.spec.replicas}')" 20 "the stable keeps its 20 replicas"
share_near 5 "at 5%"
eq "$(audit_count "$(newest_run)" rollout.route '"web-canary":5')" 1 "the weight set is an audit record"
sm g25 run rollout_router.lua --env prod -p router=gateway -p weight=25
expect_rc 0 g25 "canary 25%"
eq "$(kget prod httproute/web '{.spec.rules[0].backendRefs[*].weight}')" "75 25" "weights 75/25"
eq "$(selected web-canary)" 5 "web-canary selects the 5 canary pods"
share_near 25 "at 25%"
sm g100 run rollout_router.lua --env prod -p router=gateway -p weight=100
expect_rc 0 g100 "canary 100%"
eq "$(kget prod httproute/web '{.spec.rules[0].backendRefs[*].weight}')" "0 100" "weights 0/100"
share_near 100 "at 100%"

say "2. gateway: a failure after a canary restores the route and the Services"
before=$(kget prod svc/web-canary '{.spec.selector.pod-template-hash}')
sm gfail run rollout_router.lua --env prod -p router=gateway -p weight=25 -p image=registry/web:v3 -p after=fail
expect_rc 1 gfail "a canary whose analysis fails"
expect_status "$(newest_run)" rolled_back "the failed canary"
eq "$(kget prod httproute/web '{.spec.rules[0].backendRefs[*].weight}')" "0 100" "the weights it found: 0/100"
eq "$(kget prod svc/web-canary '{.spec.selector.pod-template-hash}')" "$before" \
  "web-canary selects the pods it selected before (the v2 canary's)"
eq "$(kget prod deploy/web-canary '{.spec.template.spec.containers[0].image}/{.spec.replicas}')" \
  registry/web:v2/20 "the canary back on v2 at 20"
eq "$(audit_count "$(newest_run)" rollout.route '"web-canary":100')" 1 "the undo's weight is audited too"

say "2. gateway: promote"
sm gprom run rollout_router.lua --env prod -p router=gateway -p weight=100 -p after=promote
expect_rc 0 gprom "promote"
eq "$(kget prod httproute/web '{.spec.rules[0].backendRefs[*].weight}')" "100 0" "weights back to 100/0"
eq "$(kget prod deploy/web '{.spec.template.spec.containers[0].image}')" registry/web:v2 "web runs v2"
eq "$(selected web-stable)" 20 "web-stable selects the 20 new stable pods"
eq "$(kget prod svc/web-canary '{.spec.selector.pod-template-hash}')" \
  "$(kget prod svc/web-stable '{.spec.selector.pod-template-hash}')" "web-canary selects the stable's pods, as Argo leaves it"
k nocanary -n prod get deploy/web-canary
krc 1 nocanary "web-canary is deleted"
share_near 0 "after the promotion"
k delroute -n prod delete httproute web
krc 0 delroute "delete the HTTPRoute"

say "3. istio: a VirtualService with FQDN hosts"
sm inone run rollout_router.lua --env prod -p router=istio -p weight=5
expect_rc 1 inone "a canary whose VirtualService is not there"
has "$T/inone.out" "ENOTFOUND" "ENOTFOUND"
has "$T/inone.out" "rollout.canary: virtualservice/web not found" "naming the route object"
cat >"$T/vs.yaml" <<'YAML'
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: prod}
spec:
  hosts: [web.prod.svc.cluster.local]
  http:
  - route:
    - destination: {host: web-stable.prod.svc.cluster.local, port: {number: 80}}
YAML
k vs apply -f "$T/vs.yaml"
krc 0 vs "kubectl apply a VirtualService"
sm i5 run rollout_router.lua --env prod -p router=istio -p weight=5 -p image=registry/web:v3-errors
expect_rc 0 i5 "canary 5% through the VirtualService"
eq "$(kget prod vs/web '{range .spec.http[0].route[*]}{.destination.host}={.weight} {end}')" \
  "web-stable.prod.svc.cluster.local=95 web-canary.prod.svc.cluster.local=5 " "destination weights 95/5"
share_near 5 "istio at 5%"
errors=$(curl -fsS "$URL/api/v1/query" --data-urlencode \
  'query=sum by (track) (increase(http_requests_total{namespace="prod",code="500"}[1m])) / sum by (track) (increase(http_requests_total{namespace="prod"}[1m]))' |
  py 'import json,sys
d = {r["metric"]["track"]: float(r["value"][1]) for r in json.load(sys.stdin)["data"]["result"]}
c, st = 100 * d["canary"], 100 * d["stable"]
print("ok" if abs(c - 3) <= 0.3 and st <= 0.3 else "canary %.2f%%, stable %.2f%%" % (c, st))')
# Whole requests: the canary's 630 a minute give 3% +- 0.2; the stable's
# 0.1% is a few requests in 20 pods' floored counters.
eq "$errors" ok "each track answers 500 at its own rate (canary image 3%, stable 0.1%), whatever its share"
sm iab run rollout_router.lua --env prod -p router=istio -p weight=5 -p image=registry/web:v3-errors -p after=abort
expect_rc 0 iab "abort"
eq "$(kget prod vs/web '{.spec.http[0].route[*].weight}')" "100 0" "abort: weights 100/0"
eq "$(kget prod deploy/web '{.spec.template.spec.containers[0].image}')" registry/web:v2 "the stable still runs v2"
share_near 0 "after the abort"
k delvs -n prod delete vs web
krc 0 delvs "delete the VirtualService"

say "4. nginx: a managed canary Ingress"
cat >"$T/ing.yaml" <<'YAML'
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: prod}
spec:
  ingressClassName: nginx
  rules:
  - host: web.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web-stable, port: {number: 80}}}}
YAML
k ing apply -f "$T/ing.yaml"
krc 0 ing "kubectl apply an Ingress"
sm nfail run rollout_router.lua --env prod -p router=nginx -p weight=5 -p after=fail
expect_rc 1 nfail "a first canary that fails"
k noing -n prod get ingress web-canary
krc 1 noing "the undo deleted the canary Ingress it created"
sm n5 run rollout_router.lua --env prod -p router=nginx -p weight=5
expect_rc 0 n5 "canary 5% through ingress-nginx"
eq "$(kget prod ingress/web-canary "{.metadata.annotations['nginx\.ingress\.kubernetes\.io/canary']}/{.metadata.annotations['nginx\.ingress\.kubernetes\.io/canary-weight']}")" \
  true/5 "ingress/web-canary: canary true, canary-weight 5"
eq "$(kget prod ingress/web-canary '{.spec.rules[0].http.paths[0].backend.service.name}')" web-canary \
  "its backend is web-canary, for the same host and path"
share_near 5 "nginx at 5%"
sm nab run rollout_router.lua --env prod -p router=nginx -p weight=5 -p after=abort
expect_rc 0 nab "abort"
eq "$(kget prod ingress/web-canary "{.metadata.annotations['nginx\.ingress\.kubernetes\.io/canary-weight']}")" \
  0 "abort: canary-weight 0"
k deling -n prod delete ingress web web-canary
krc 0 deling "delete the Ingresses"

say "5. smi: a TrafficSplit through progressive 25 -> 50 -> 100, killed at 50%"
cat >"$T/ts.yaml" <<'YAML'
apiVersion: split.smi-spec.io/v1alpha2
kind: TrafficSplit
metadata: {name: web, namespace: prod}
spec:
  service: web
  backends: [{service: web-stable, weight: 100}]
YAML
sed 's/service: web-stable/service: web-old/' "$T/ts.yaml" >"$T/ts-old.yaml"
k tsold apply -f "$T/ts-old.yaml"
krc 0 tsold "kubectl apply a TrafficSplit to another Service"
sm snone run rollout_router.lua --env prod -p router=smi -p weight=5
expect_rc 1 snone "a canary whose TrafficSplit does not send to web-stable"
has "$T/snone.out" "EINVALID" "EINVALID"
has "$T/snone.out" "trafficsplit/web sends nothing to service web-stable" "saying what is missing"
k ts apply -f "$T/ts.yaml"
krc 0 ts "kubectl apply the TrafficSplit"
bg_run sprog run rollout_router.lua --env prod -p router=smi -p steps=25,50,100 -p pause=4s \
  -p image=registry/web:v4 --json
run=$NEW_RUN
# Key 3 is the 50% step; 3/6 its pause (after the route step 3/5).
wait_until 60 "the pause at 50%" journal_has "$run" 3/6 started
kill -9 "$BG_PID"
bg_wait "$BG_PID"
eq "$RC" 137 "summit was killed during the pause at 50%"
eq "$(kget prod ts/web '{.spec.backends[*].weight}')" "50 50" "the TrafficSplit is at 50/50"
share_near 50 "smi at 50%"
sm sresume resume "$run"
expect_rc 0 sresume "the resumed progressive rollout and the promotion"
expect_status "$run" succeeded "the progressive run"
eq "$(kget prod ts/web '{range .spec.backends[*]}{.service}={.weight} {end}')" \
  "web-stable=100 web-canary=0 " "the TrafficSplit back to 100/0"
eq "$(kget prod deploy/web '{.spec.template.spec.containers[0].image}')" registry/web:v4 "web runs v4"
eq "$(started_rows "$run" 3/5)" 1 "the route step at 50% ran once"
eq "$(audit_count "$run" rollout.route '"router":"smi"')" 4 \
  "four weights set (25, 50, 100, 0), each audited once across the kill"
share_near 0 "after the promotion"

cd "$T"
stop_sim sim
