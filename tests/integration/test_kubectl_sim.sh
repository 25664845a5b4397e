#!/usr/bin/env bash
# Issue 4 / the real kubectl against `summit sim serve` (DESIGN §8,
# reference kubernetes-prometheus.md §0-5).
#
#  1. The sim starts on an ephemeral port and prints its URL; kubectl (the
#     gcloud dispatcher: /version first, minor "32") gets a fresh cache dir
#     and a kubeconfig in the temp dir. version, discovery.
#  2. create deployment (protobuf body), rollout status waits then
#     succeeds; get deploy/po/rs/events as tables and -o json, events
#     --sort-by=.lastTimestamp and --field-selector; ReplicaSet naming,
#     pod-template-hash, ownerReferences, revision annotations.
#  3. set env (add, remove one), scale, set image to a bad image ->
#     rollout status fails with kubectl's progress-deadline message (exit
#     1), rollout history, rollout undo, rollout restart, logs (pod and
#     deployment/web, --tail, --timestamps), NotFound.
#  4. curl: watch replays, 410 Expired for a too-old resourceVersion,
#     timeoutSeconds ends the stream, strategic merge patch cases (merge by
#     name/containerPort/mountPath, $setElementOrder, $patch: delete, null),
#     merge and JSON patch, 409 Conflict on a stale PUT, 415, Table,
#     aggregated discovery.
#  5. SIGTERM mid-rollout: clean exit 0 (ASan: nothing leaked); restarted
#     on the same state file the rollout continues and completes, objects
#     keep their uids.
#  6. api_error_rate = 1: every API request fails with an injected
#     500/429/503 Status, /version and discovery never do.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

command -v kubectl >/dev/null || die "kubectl is needed (the real peer of this test)"
command -v curl >/dev/null || die "curl is needed (make deps)"

cat >"$T/scenario.json" <<'EOF'
{
  "bad_images": ["registry/web:bad*"],
  "rollout_seconds_per_pod": 40,
  "watch_history": 60,
  "exec": [{ "match": ["npx", "tsx", "scripts/migrate.ts"], "stdout": "ok\n" }]
}
EOF
SIM_ARGS=(--state "$T/sim-state.json" --scenario "$T/scenario.json"
          --time-scale 100 --kubeconfig "$T/kubeconfig")

say "1. start, version, discovery"
start_sim sim "${SIM_ARGS[@]}"
ok "sim serves on $URL"
has "$T/kubeconfig" "$URL" "the kubeconfig points at the sim"
k version version -o json
krc 0 version "kubectl version"
eq "$(jq_py "$T/version.out" 'd["serverVersion"]["minor"]')" "32" "server minor is 32"
curl -fsS -H 'Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json' \
  -D "$T/disc.h" "$URL/apis" -o "$T/disc.json"
has "$T/disc.h" "as=APIGroupDiscoveryList" "aggregated discovery content type"
eq "$(jq_py "$T/disc.json" '[r["resource"] for r in d["items"][0]["versions"][0]["resources"]]')" \
  '["deployments", "replicasets"]' "apps resources in aggregated discovery"
curl -fsS "$URL/api/v1" -o "$T/corev1.json"
eq "$(jq_py "$T/corev1.json" 'sorted(r["name"] for r in d["resources"] if "/" not in r["name"])')" \
  '["configmaps", "events", "namespaces", "pods", "secrets", "services"]' "legacy /api/v1 resource list"

say "2. create, rollout status, get"
k create create deployment web --image=registry/web:v1 --replicas=2
krc 0 create "kubectl create deployment"
has "$T/create.out" "deployment.apps/web created" "create output"
k status1 rollout status deployment/web --timeout=40s
krc 0 status1 "rollout status"
has "$T/status1.out" 'Waiting for deployment "web" rollout to finish' "rollout status waited"
has "$T/status1.out" 'deployment "web" successfully rolled out' "rollout status succeeded"
k getdeploy get deploy
krc 0 getdeploy "get deploy"
has "$T/getdeploy.out" "NAME   READY   UP-TO-DATE   AVAILABLE   AGE" "deployment table columns"
grep -Eq '^web +2/2 +2 +2 +[0-9]+s$' "$T/getdeploy.out" || { show getdeploy; die "web row of get deploy"; }
ok "get deploy shows web 2/2 2 2"
k getwide get deploy -o wide
has "$T/getwide.out" "CONTAINERS   IMAGES            SELECTOR" "wide columns"
has "$T/getwide.out" "registry/web:v1   app=web" "wide row"
k getpo get po
krc 0 getpo "get po"
eq "$(grep -cE '^web-[a-z0-9]+-[a-z0-9]{5} +1/1 +Running +0 +' "$T/getpo.out")" 2 "two running pods"
k deployjson get deploy web -o json
eq "$(jq_py "$T/deployjson.out" 'd["status"]["readyReplicas"]')" 2 "status.readyReplicas"
eq "$(jq_py "$T/deployjson.out" 'd["status"]["observedGeneration"] == d["metadata"]["generation"]')" True "observedGeneration"
eq "$(jq_py "$T/deployjson.out" 'd["metadata"]["annotations"]["deployment.kubernetes.io/revision"]')" 1 "revision 1"
eq "$(jq_py "$T/deployjson.out" '[(c["type"], c["reason"]) for c in d["status"]["conditions"]]')" \
  '[["Available", "MinimumReplicasAvailable"], ["Progressing", "NewReplicaSetAvailable"]]' "conditions"
UID1=$(jq_py "$T/deployjson.out" 'd["metadata"]["uid"]')
k rsjson get rs -o json
eq "$(jq_py "$T/rsjson.out" 'len(d["items"])')" 1 "one ReplicaSet"
eq "$(jq_py "$T/rsjson.out" 'd["items"][0]["metadata"]["name"] == "web-" + d["items"][0]["metadata"]["labels"]["pod-template-hash"]')" True "ReplicaSet named web-<pod-template-hash>"
eq "$(jq_py "$T/rsjson.out" '[(r["kind"], r["name"], r["controller"]) for r in d["items"][0]["metadata"]["ownerReferences"]]')" \
  '[["Deployment", "web", true]]' "ReplicaSet ownerReference"
eq "$(jq_py "$T/rsjson.out" 'd["items"][0]["metadata"]["ownerReferences"][0]["uid"]')" "$UID1" "ownerReference uid"
k events get events --sort-by=.lastTimestamp
krc 0 events "get events --sort-by=.lastTimestamp"
has "$T/events.out" "LAST SEEN   TYPE     REASON" "events table columns"
has "$T/events.out" "deployment/web" "event about the deployment"
has "$T/events.out" "Scaled up replica set web-" "ScalingReplicaSet event"
has "$T/events.out" "Created pod: web-" "SuccessfulCreate event"
k evjson get events -o json
eq "$(jq_py "$T/evjson.out" 'all(e["count"] >= 1 and e["lastTimestamp"] and e["firstTimestamp"] and e["involvedObject"]["name"] for e in d["items"])')" True "events carry count, timestamps, involvedObject"
k evsel get events --field-selector involvedObject.name=web
krc 0 evsel "events --field-selector involvedObject.name=web"
hasnt "$T/evsel.out" "pod/" "field selector leaves other objects out"
has "$T/evsel.out" "ScalingReplicaSet" "field selector keeps the deployment's events"
k nope get deploy nope
krc 1 nope "get of a missing deployment"
has "$T/nope.err" 'Error from server (NotFound): deployments.apps "nope" not found' "NotFound message"

say "3. set env, scale, bad image, history, undo, restart, logs"
k env1 set env deployment/web A=1 B=2
krc 0 env1 "set env add"
has "$T/env1.out" "deployment.apps/web env updated" "set env output"
k envj get deploy web -o jsonpath='{.spec.template.spec.containers[0].env}'
eq "$(cat "$T/envj.out")" '[{"name":"A","value":"1"},{"name":"B","value":"2"}]' "env after add"
k env2 set env deployment/web A-
krc 0 env2 "set env remove"
k envj get deploy web -o jsonpath='{.spec.template.spec.containers[0].env}'
eq "$(cat "$T/envj.out")" '[{"name":"B","value":"2"}]' "env after remove"
k status2 rollout status deployment/web --timeout=40s
krc 0 status2 "rollout status after set env"
k scale scale deployment/web --replicas=3
krc 0 scale "scale"
has "$T/scale.out" "deployment.apps/web scaled" "scale output"
k status3 rollout status deployment/web --timeout=40s
krc 0 status3 "rollout status after scale"
k ready get deploy web -o jsonpath='{.status.readyReplicas}/{.spec.replicas}'
eq "$(cat "$T/ready.out")" "3/3" "three ready after scale"
k scaleput scale deployment/web --current-replicas=2 --replicas=3
krc 1 scaleput "scale with a wrong --current-replicas (GET /scale)"
has "$T/scaleput.err" "Expected replicas to be 2, was 3" "--current-replicas checked"
k scaleput2 scale deployment/web --current-replicas=3 --replicas=3
krc 0 scaleput2 "scale --current-replicas (PUT /scale)"
# A short progress deadline (200 simulated s = 2 real s), set with a
# strategic merge patch, so the bad image fails fast.
k pds patch deployment web -p '{"spec":{"progressDeadlineSeconds":200}}'
krc 0 pds "patch progressDeadlineSeconds"
k badimg set image deployment/web web=registry/web:bad1
krc 0 badimg "set image to a bad image"
k status4 rollout status deployment/web --timeout=40s
krc 1 status4 "rollout status of a bad image"
has "$T/status4.err" 'error: deployment "web" exceeded its progress deadline' "progress deadline message"
k badpo get po
grep -Eq 'ImagePullBackOff|ErrImagePull' "$T/badpo.out" || { show badpo; die "bad pod status"; }
ok "the bad image's pod is in ImagePullBackOff/ErrImagePull"
k hist rollout history deployment/web
krc 0 hist "rollout history"
has "$T/hist.out" "REVISION  CHANGE-CAUSE" "history header"
eq "$(awk '/^[0-9]+ /{print $1}' "$T/hist.out" | tr '\n' ' ')" "1 2 3 4 " "revisions 1-4"
k undo rollout undo deployment/web
krc 0 undo "rollout undo"
has "$T/undo.out" "deployment.apps/web rolled back" "undo output"
k status5 rollout status deployment/web --timeout=40s
krc 0 status5 "rollout status after undo"
k img get deploy web -o jsonpath='{.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].env} {.metadata.annotations.deployment\.kubernetes\.io/revision}'
eq "$(cat "$T/img.out")" 'registry/web:v1 [{"name":"B","value":"2"}] 5' "undo restored revision 3's template as revision 5"
k hist2 rollout history deployment/web
eq "$(awk '/^[0-9]+ /{print $1}' "$T/hist2.out" | tr '\n' ' ')" "1 2 4 5 " "revision 3 became 5"
k restart rollout restart deployment/web
krc 0 restart "rollout restart"
has "$T/restart.out" "deployment.apps/web restarted" "restart output"
k restarted get deploy web -o jsonpath='{.spec.template.metadata.annotations}'
has "$T/restarted.out" "kubectl.kubernetes.io/restartedAt" "restartedAt annotation"
k status6 rollout status deployment/web --timeout=40s
krc 0 status6 "rollout status after restart"
k logs1 logs deployment/web
krc 0 logs1 "logs deployment/web"
has "$T/logs1.out" 'msg="starting web" image=registry/web:v1' "deployment log lines"
POD=$(kubectl --kubeconfig "$T/kubeconfig" --cache-dir "$T/kcache" get po -o name | awk 'NR == 1')
k logs2 logs "$POD" --tail=1 --timestamps
krc 0 logs2 "logs POD --tail=1 --timestamps"
eq "$(lines "$T/logs2.out")" 1 "--tail=1 gives one line"
grep -Eq '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{9}Z ' "$T/logs2.out" || { show logs2; die "timestamps"; }
ok "--timestamps prefixes RFC 3339 times"
k logs3 logs "$POD" --previous
krc 1 logs3 "logs --previous of a container that never restarted"
has "$T/logs3.err" 'previous terminated container "web"' "--previous message"

say "4. watch, 410, patches, errors, Table"
DEP=$URL/apis/apps/v1/namespaces/default/deployments
LIST_RV=$(curl -fsS "$DEP" | py 'import json,sys; print(json.load(sys.stdin)["metadata"]["resourceVersion"])')
(( LIST_RV > 60 )) || die "expected more than 60 changes so far, list RV is $LIST_RV"
curl -fsS -N --max-time 20 "$DEP?watch=true&resourceVersion=1" >"$T/w410.out"
eq "$(py 'import json,sys; e = json.loads(open(sys.argv[1]).readline()); print(e["type"], e["object"]["code"], e["object"]["reason"])' "$T/w410.out")" \
  "ERROR 410 Expired" "watch from a too-old resourceVersion gets 410 Expired"
has "$T/w410.out" "too old resource version: 1 (" "410 message"
START=$(date +%s%N)
curl -fsS -N --max-time 20 "$DEP?watch=true&resourceVersion=$((LIST_RV - 5))&timeoutSeconds=1" >"$T/wok.out"
ELAPSED=$((($(date +%s%N) - START) / 1000000))
hasnt "$T/wok.out" '"ERROR"' "a recent resourceVersion is not expired"
((ELAPSED < 15000)) || die "timeoutSeconds=1 did not end the watch (took ${ELAPSED} ms)"
ok "timeoutSeconds ends the stream"
curl -fsS -N --max-time 20 "$DEP?watch=true&timeoutSeconds=1&fieldSelector=metadata.name%3Dweb" >"$T/w0.out"
eq "$(py 'import json,sys; e = json.loads(open(sys.argv[1]).readline()); print(e["type"], e["object"]["metadata"]["name"])' "$T/w0.out")" \
  "ADDED web" "a watch without resourceVersion starts with ADDED"

cat >"$T/smp.json" <<'EOF'
{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"smp","labels":{"app":"smp","tier":"x"}},
 "spec":{"replicas":1,"selector":{"matchLabels":{"app":"smp"}},
  "template":{"metadata":{"labels":{"app":"smp"}},"spec":{"containers":[
   {"name":"a","image":"img/a:1","env":[{"name":"X","value":"1"},{"name":"Y","value":"2"}],
    "ports":[{"containerPort":80},{"containerPort":81}],
    "volumeMounts":[{"name":"v","mountPath":"/v"},{"name":"w","mountPath":"/w"}]},
   {"name":"b","image":"img/b:1","args":["--one","--two"]}]}}}}
EOF
CODE=$(curl -sS -o "$T/smp.out" -w '%{http_code}' -XPOST -H 'Content-Type: application/json' "$DEP" --data-binary @"$T/smp.json")
eq "$CODE" 201 "POST a deployment: 201"
CODE=$(curl -sS -o "$T/smp2.out" -w '%{http_code}' -XPOST -H 'Content-Type: application/json' "$DEP" --data-binary @"$T/smp.json")
eq "$CODE" 409 "POST it again: 409"
eq "$(jq_py "$T/smp2.out" 'd["reason"]')" AlreadyExists "AlreadyExists"
CODE=$(curl -sS -o "$T/smp3.out" -w '%{http_code}' -XPATCH -H 'Content-Type: application/strategic-merge-patch+json' "$DEP/smp" --data-binary '{
  "metadata":{"labels":{"tier":null,"new":"y"}},
  "spec":{"template":{"spec":{
    "$setElementOrder/containers":[{"name":"b"},{"name":"a"}],
    "containers":[
      {"name":"a","$setElementOrder/env":[{"name":"Z"},{"name":"X"}],
       "env":[{"name":"Y","$patch":"delete"},{"name":"Z","value":"3"}],
       "ports":[{"containerPort":81,"$patch":"delete"},{"containerPort":82}],
       "volumeMounts":[{"mountPath":"/v","readOnly":true}]},
      {"name":"b","args":["--three"]}]}}}}')
eq "$CODE" 200 "strategic merge patch: 200"
C='d["spec"]["template"]["spec"]["containers"]'
eq "$(jq_py "$T/smp3.out" "[c['name'] for c in $C]")" '["b", "a"]' "SMP: \$setElementOrder/containers"
eq "$(jq_py "$T/smp3.out" "[(e['name'], e['value']) for e in $C[1]['env']]")" '[["Z", "3"], ["X", "1"]]' \
  "SMP: env merged by name, \$patch: delete, \$setElementOrder/env"
eq "$(jq_py "$T/smp3.out" "[p['containerPort'] for p in $C[1]['ports']]")" '[80, 82]' "SMP: ports merged by containerPort"
eq "$(jq_py "$T/smp3.out" "[(m['mountPath'], m.get('readOnly', False), m['name']) for m in $C[1]['volumeMounts']]")" \
  '[["/v", true, "v"], ["/w", false, "w"]]' "SMP: volumeMounts merged by mountPath, fields merged"
eq "$(jq_py "$T/smp3.out" "$C[0]['args']")" '["--three"]' "SMP: a list without merge key is replaced"
eq "$(jq_py "$T/smp3.out" 'sorted(d["metadata"]["labels"].items())')" '[["app", "smp"], ["new", "y"]]' "SMP: null deletes, maps merge"
eq "$(jq_py "$T/smp3.out" 'd["metadata"]["generation"]')" 2 "SMP: generation moved with the spec"
CODE=$(curl -sS -o "$T/mp.out" -w '%{http_code}' -XPATCH -H 'Content-Type: application/merge-patch+json' "$DEP/smp" \
  --data-binary '{"metadata":{"labels":{"new":null}},"spec":{"template":{"spec":{"containers":[{"name":"only","image":"img/o:1"}]}}}}')
eq "$CODE" 200 "merge patch: 200"
eq "$(jq_py "$T/mp.out" "[c['name'] for c in $C]")" '["only"]' "merge patch replaces lists"
eq "$(jq_py "$T/mp.out" '"new" in d["metadata"]["labels"]')" False "merge patch: null deletes"
CODE=$(curl -sS -o "$T/jp.out" -w '%{http_code}' -XPATCH -H 'Content-Type: application/json-patch+json' "$DEP/smp" \
  --data-binary '[{"op":"test","path":"/spec/replicas","value":1},{"op":"replace","path":"/spec/replicas","value":2},{"op":"add","path":"/metadata/labels/j","value":"p"}]')
eq "$CODE" 200 "JSON patch: 200"
eq "$(jq_py "$T/jp.out" '(d["spec"]["replicas"], d["metadata"]["labels"]["j"])')" '[2, "p"]' "JSON patch applied"
CODE=$(curl -sS -o "$T/jp2.out" -w '%{http_code}' -XPATCH -H 'Content-Type: application/json-patch+json' "$DEP/smp" \
  --data-binary '[{"op":"test","path":"/spec/replicas","value":7}]')
eq "$CODE" 422 "failed JSON patch test: 422"
CODE=$(curl -sS -o "$T/415.out" -w '%{http_code}' -XPATCH -H 'Content-Type: text/plain' "$DEP/smp" --data-binary '{}')
eq "$CODE" 415 "unknown patch type: 415"
eq "$(jq_py "$T/415.out" 'd["reason"]')" UnsupportedMediaType "415 reason"
# Optimistic concurrency on a ConfigMap (no controller writes to it).
CM=$URL/api/v1/namespaces/default/configmaps
CODE=$(curl -sS -o "$T/cm.json" -w '%{http_code}' -XPOST -H 'Content-Type: application/json' "$CM" \
  --data-binary '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg"},"data":{"a":"1","b":"2"}}')
eq "$CODE" 201 "POST a ConfigMap: 201"
py 'import json,sys; d = json.load(open(sys.argv[1])); d["metadata"]["resourceVersion"] = "1"; d["data"]["a"] = "9"; json.dump(d, open(sys.argv[2], "w"))' \
  "$T/cm.json" "$T/stale.json"
CODE=$(curl -sS -o "$T/409.out" -w '%{http_code}' -XPUT -H 'Content-Type: application/json' "$CM/cfg" --data-binary @"$T/stale.json")
eq "$CODE" 409 "PUT with a stale resourceVersion: 409"
eq "$(jq_py "$T/409.out" 'd["reason"]')" Conflict "Conflict reason"
py 'import json,sys; d = json.load(open(sys.argv[1])); d["data"]["a"] = "3"; json.dump(d, open(sys.argv[2], "w"))' \
  "$T/cm.json" "$T/fresh.json"
CODE=$(curl -sS -o "$T/put.out" -w '%{http_code}' -XPUT -H 'Content-Type: application/json' "$CM/cfg" --data-binary @"$T/fresh.json")
eq "$CODE" 200 "PUT with the current resourceVersion: 200"
CODE=$(curl -sS -o "$T/cmp.out" -w '%{http_code}' -XPATCH -H 'Content-Type: application/merge-patch+json' "$CM/cfg" \
  --data-binary '{"data":{"b":null,"c":"4"}}')
eq "$CODE" 200 "merge patch of a ConfigMap: 200"
eq "$(jq_py "$T/cmp.out" 'sorted(d["data"].items())')" '[["a", "3"], ["c", "4"]]' "ConfigMap data after PUT and merge patch"
k cmget get cm cfg -o jsonpath='{.data.c}'
eq "$(cat "$T/cmget.out")" 4 "kubectl sees the ConfigMap"
CODE=$(curl -sS -o "$T/422.out" -w '%{http_code}' -XPOST -H 'Content-Type: application/json' "$DEP" \
  --data-binary '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"bad"},"spec":{"selector":{"matchLabels":{"app":"x"}},"template":{"metadata":{"labels":{"app":"y"}},"spec":{"containers":[]}}}}')
eq "$CODE" 422 "invalid deployment: 422"
has "$T/422.out" '`selector` does not match template `labels`' "422 names the selector mismatch"
curl -fsS -H 'Accept: application/json;as=Table;v=v1;g=meta.k8s.io,application/json' "$URL/api/v1/namespaces/default/pods" >"$T/table.json"
eq "$(jq_py "$T/table.json" '(d["kind"], [c["name"] for c in d["columnDefinitions"] if c["priority"] == 0], d["rows"][0]["object"]["kind"])')" \
  '["Table", ["Name", "Ready", "Status", "Restarts", "Age"], "PartialObjectMetadata"]' "pod Table: columns, PartialObjectMetadata rows"
CODE=$(curl -sS -o "$T/exec.out" -w '%{http_code}' -XPOST "$URL/api/v1/namespaces/default/pods/${POD#pod/}/exec?command=ls")
eq "$CODE" 400 "exec over HTTP: a clear 400"
has "$T/exec.out" "scripted commands" "exec 400 says what to use instead"

say "5. restart mid-rollout on the same state"
k v2 set image deployment/web web=registry/web:v2
krc 0 v2 "set image v2"
sleep 0.2
stop_sim sim
start_sim sim2 "${SIM_ARGS[@]}"
ok "restarted on $URL"
k status7 rollout status deployment/web --timeout=40s
krc 0 status7 "the rollout continued after the restart"
k img2 get deploy web -o jsonpath='{.metadata.uid} {.spec.template.spec.containers[0].image} {.status.updatedReplicas}'
eq "$(cat "$T/img2.out")" "$UID1 registry/web:v2 3" "same uid, new image, all pods updated"
stop_sim sim2

say "6. injected API errors"
echo '{"api_error_rate": 1, "seed": 7}' >"$T/errors.json"
start_sim sim3 --memory --scenario "$T/errors.json" --kubeconfig "$T/kubeconfig3"
CODES=""
for _ in 1 2 3 4 5 6; do
  CODES+="$(curl -sS -o "$T/inj.out" -w '%{http_code}' "$URL/api/v1/namespaces/default/pods") "
done
for c in $CODES; do
  [[ $c == 500 || $c == 429 || $c == 503 ]] || die "injected code $c is not 500/429/503 ($CODES)"
done
ok "every request failed with an injected error ($CODES)"
eq "$(jq_py "$T/inj.out" 'd["kind"]')" Status "an injected error is a Status"
eq "$(curl -sS -o /dev/null -w '%{http_code}' "$URL/version")" 200 "/version is never injected"
eq "$(curl -sS -o /dev/null -w '%{http_code}' "$URL/apis")" 200 "discovery is never injected"
stop_sim sim3
