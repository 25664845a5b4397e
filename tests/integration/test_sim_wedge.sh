#!/usr/bin/env bash
# Issue 12 item 10: the simulated cluster cannot be wedged by a number.
#
#  1. kubectl patch --type=json replicas 1e300: refused as the API server
#     refuses it (422, "The request is invalid: patch: ... json: cannot
#     unmarshal number 1e+300 into Go struct field
#     DeploymentSpec.spec.replicas of type int32"); the sim answers the
#     next request and the deployment keeps its 2 replicas.
#  2. replicas 2.5 through a strategic, merge and JSON patch, the scale
#     subresource (PATCH and PUT), create and update: each with the message
#     and code of its path (422 for patches, 400 for bodies); -1 is a
#     validation error naming the value; other int32 fields too.
#  3. A legal but huge replica count (kubectl scale --replicas=2147483647,
#     which Kubernetes accepts): the sim stays responsive, keeps at most
#     max_pods pods and says so in a FailedCreate event.
#  4. SIGTERM then stops it (within a bounded wait: a hang fails the test).
#  5. The HTTP server's limits (scenario server = {...}, 1 s here): a
#     half-sent request is answered 408 and closed after the header
#     timeout; a crowd of slow clients over max_connections gets the extra
#     ones refused with 503, and kubectl still gets its answer (it retries
#     the 503) once the header timeout has evicted the crowd.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

command -v kubectl >/dev/null || die "kubectl is needed (the real peer of this test)"
command -v curl >/dev/null || die "curl is needed (make deps)"

cat >"$T/scenario.json" <<'EOF'
{ "rollout_seconds_per_pod": 1, "max_pods": 30 }
EOF
start_sim sim --memory --scenario "$T/scenario.json" --time-scale 100 \
  --kubeconfig "$T/kubeconfig"
D=$URL/apis/apps/v1/namespaces/default/deployments

# api NAME METHOD PATH CONTENT-TYPE BODY: curl, body to $T/NAME.json, code
# to CODE; bounded so a wedged sim fails here instead of stalling.
api() {
  CODE=$(curl -sS --max-time 10 -o "$T/$1.json" -w '%{http_code}' -X "$2" \
    -H "Content-Type: $4" --data-binary "$5" "$URL$3") || CODE=timeout
}
# field NAME EXPR: a Python expression over d = $T/NAME.json.
field() {
  py 'import json,sys
d = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$T/$1.json" "$2"
}
replicas_are() {
  k getr get deployment web -o 'jsonpath={.spec.replicas}'
  krc 0 getr "the sim answers after $2"
  eq "$(cat "$T/getr.out")" "$1" "spec.replicas is still $1 after $2"
}

say "0. a deployment"
k create create deployment web --image=registry/web:v1 --replicas=2
krc 0 create "kubectl create deployment"
k status rollout status deployment/web --timeout=30s
krc 0 status "rollout status"

say "1. JSON patch replicas 1e300"
k p300 patch deployment web --type=json \
  -p '[{"op":"replace","path":"/spec/replicas","value":1e300}]'
krc 1 p300 "kubectl patch replicas 1e300 is refused"
has "$T/p300.err" "The request is invalid: patch: Invalid value: " "kubectl's invalid-request message"
has "$T/p300.err" "json: cannot unmarshal number 1e+300 into Go struct field DeploymentSpec.spec.replicas of type int32" \
  "Go's decode error names the field and type"
replicas_are 2 "the 1e300 patch"
api j300 PATCH /apis/apps/v1/namespaces/default/deployments/web \
  application/json-patch+json '[{"op":"replace","path":"/spec/replicas","value":1e300}]'
eq "$CODE" 422 "the 1e300 JSON patch is a 422"
eq "$(field j300 'd["kind"], d["reason"], d["details"]["causes"][0]["field"], d["details"]["causes"][0]["reason"]')" \
  "('Status', 'Invalid', 'patch', 'FieldValueInvalid')" "a Status with reason Invalid and the cause on field patch"

say "2. replicas 2.5 on every path, other int32 fields"
k smp patch deployment web -p '{"spec":{"replicas":2.5}}'
krc 1 smp "strategic merge patch replicas 2.5 is refused"
has "$T/smp.err" 'The request is invalid: patch: Invalid value: "map[spec:map[replicas:2.5]]": cannot convert float64 to int32' \
  "strategic merge patch: the converter's message"
k merge patch deployment web --type=merge -p '{"spec":{"replicas":2.5}}'
krc 1 merge "merge patch replicas 2.5 is refused"
has "$T/merge.err" "json: cannot unmarshal number 2.5 into Go struct field DeploymentSpec.spec.replicas of type int32" \
  "merge patch: the decoder's message"
k neg patch deployment web --type=json -p '[{"op":"replace","path":"/spec/replicas","value":-1}]'
krc 1 neg "replicas -1 is refused"
has "$T/neg.err" 'The Deployment "web" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0' \
  "validation names the value"
api scp PATCH /apis/apps/v1/namespaces/default/deployments/web/scale \
  application/merge-patch+json '{"spec":{"replicas":2.5}}'
eq "$CODE" 422 "scale subresource PATCH 2.5 is a 422"
has "$T/scp.json" "Go struct field ScaleSpec.spec.replicas of type int32" "scale PATCH names ScaleSpec"
api scu PUT /apis/apps/v1/namespaces/default/deployments/web/scale application/json \
  '{"kind":"Scale","apiVersion":"autoscaling/v1","metadata":{"name":"web","namespace":"default"},"spec":{"replicas":1e300}}'
eq "$CODE" 400 "scale subresource PUT 1e300 is a 400"
eq "$(field scu 'd["reason"], d["message"]')" \
  "('BadRequest', 'Scale in version \"v1\" cannot be handled as a Scale: json: cannot unmarshal number 1e+300 into Go struct field ScaleSpec.spec.replicas of type int32')" \
  "scale PUT: the body decode message"
api scn PUT /apis/apps/v1/namespaces/default/deployments/web/scale application/json \
  '{"kind":"Scale","apiVersion":"autoscaling/v1","metadata":{"name":"web","namespace":"default"},"spec":{"replicas":-3}}'
eq "$CODE" 422 "scale PUT -3 is a 422"
eq "$(field scn 'd["message"]')" \
  'Scale.autoscaling "web" is invalid: spec.replicas: Invalid value: -3: must be greater than or equal to 0' \
  "scale PUT -3: the validation message"
NEW='{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"api"},"spec":{"replicas":2.5,"selector":{"matchLabels":{"app":"api"}},"template":{"metadata":{"labels":{"app":"api"}},"spec":{"containers":[{"name":"api","image":"registry/api:v1"}]}}}}'
api post POST /apis/apps/v1/namespaces/default/deployments application/json "$NEW"
eq "$CODE" 400 "create with replicas 2.5 is a 400"
eq "$(field post 'd["reason"], d["message"]')" \
  "('BadRequest', 'Deployment in version \"v1\" cannot be handled as a Deployment: json: cannot unmarshal number 2.5 into Go struct field DeploymentSpec.spec.replicas of type int32')" \
  "create: the body decode message"
k getweb get deployment web -o json
krc 0 getweb "get deployment web -o json"
py 'import json,sys
d = json.load(open(sys.argv[1])); d["spec"]["revisionHistoryLimit"] = 1e10
json.dump(d, open(sys.argv[2], "w"))' "$T/getweb.out" "$T/put.json"
api put PUT /apis/apps/v1/namespaces/default/deployments/web application/json "$(cat "$T/put.json")"
eq "$CODE" 400 "update with revisionHistoryLimit 1e10 is a 400"
has "$T/put.json" "cannot unmarshal number 10000000000 into Go struct field DeploymentSpec.spec.revisionHistoryLimit of type int32" \
  "update: revisionHistoryLimit out of int32 range"
api surge PATCH /apis/apps/v1/namespaces/default/deployments/web application/merge-patch+json \
  '{"spec":{"strategy":{"rollingUpdate":{"maxSurge":2.5}}}}'
eq "$CODE" 422 "maxSurge 2.5 is a 422"
has "$T/surge.json" "Go struct field RollingUpdateDeployment.spec.strategy.rollingUpdate.maxSurge of type int32" \
  "maxSurge: an IntOrString's int32"
api port PATCH /apis/apps/v1/namespaces/default/deployments/web application/json-patch+json \
  '[{"op":"add","path":"/spec/template/spec/containers/0/ports","value":[{"containerPort":70000}]}]'
eq "$CODE" 422 "containerPort 70000 is a 422"
has "$T/port.json" "spec.template.spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive" \
  "containerPort: validation names field and value"
replicas_are 2 "every refused write"

say "3. a legal, huge replica count"
k scale scale deployment web --replicas=2147483647
krc 0 scale "kubectl scale --replicas=2147483647 is accepted, as Kubernetes does"
# The controller works on it in bounded steps: the sim keeps answering.
for i in 1 2 3; do
  replicas_are 2147483647 "the huge scale (request $i)"
done
pods_capped() {
  k pods get pods -o name
  [[ $RC -eq 0 && $(wc -l <"$T/pods.out") -eq 30 ]]
}
wait_until 30 "the sim to reach max_pods (30) pods" pods_capped
ok "the sim created max_pods pods, no more"
k ev get events --field-selector reason=FailedCreate -o 'jsonpath={.items[*].message}'
krc 0 ev "get events"
has "$T/ev.out" "the summit sim keeps at most 30 pods (scenario max_pods)" "a FailedCreate event says why"

say "4. SIGTERM"
kill -TERM "$SIM_PID"
sim_gone() { ! kill -0 "$SIM_PID" 2>/dev/null; }
wait_until 15 "the sim to exit on SIGTERM" sim_gone
bg_wait "$SIM_PID"
eq "$RC" 0 "the sim exits 0 on SIGTERM"
hasnt "$T/sim.err" "internal error" "no internal errors in the sim's log"

say "5. the HTTP server's limits"
cat >"$T/limits.json" <<'EOF'
{ "server": { "header_timeout_ms": 1000, "max_connections": 20 } }
EOF
start_sim sim2 --memory --scenario "$T/limits.json" --kubeconfig "$T/kubeconfig"
PORT=${URL##*:}
# slow N: N connections each sending half a request, then "$T/ready";
# prints, per connection, what it got: the status line, "closed",
# "reset" or "timeout" (10 s: a server that keeps them forever fails).
slow() {
  py 'import socket, sys
n, port, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s.sendall(b"GET /version HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    except OSError:
        pass
    socks.append(s)
open(ready, "w").close()
for s in socks:
    try:
        data = s.recv(4096)
        print(data.split(b"\r\n")[0].decode() if data else "closed")
    except socket.timeout:
        print("timeout")
    except OSError:
        print("reset")' "$1" "$PORT" "$T/ready"
}
slow 1 >"$T/half.out"
eq "$(cat "$T/half.out")" "HTTP/1.1 408 Request Timeout" "a half-sent request is answered 408 after the header timeout"
rm -f "$T/ready"
slow 25 >"$T/crowd.out" &
CROWD=$!
crowd_ready() { [[ -e $T/ready ]]; }
wait_until 10 "the crowd to connect" crowd_ready
# The crowd holds every place: kubectl is refused (503, or a reset) and
# retries; it gets its answer once the header timeout evicts the crowd.
k limget get deployments
krc 0 limget "kubectl gets through a crowd of slow clients"
wait "$CROWD"
eq "$(grep -c '408 Request Timeout' "$T/crowd.out")" 20 "the 20 slow clients within the cap are cut off with 408"
eq "$(grep -c -E '503 Service Unavailable|reset|closed' "$T/crowd.out")" 5 "the 5 over the cap are refused"
stop_sim sim2
