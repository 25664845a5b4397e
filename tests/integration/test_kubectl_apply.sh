#!/usr/bin/env bash
# Issue 14 item 6 / `kubectl apply` against `summit sim serve` with its
# defaults (docs/sim.md, "OpenAPI, validation and server-side apply").
#
#  1. /openapi/v3 lists api/v1, apis/apps/v1 and the route kinds' groups; the apps document's
#     Deployment PATCH takes fieldValidation (what kubectl looks for).
#  2. kubectl apply -f (default --validate=strict) creates, then updates;
#     a manifest with misspelt fields is refused with the API server's
#     strict decoding error (on create and on update) and changes nothing;
#     --validate=warn applies it with kubectl's "Warning: unknown field".
#  3. kubectl explain deployment.spec.replicas and service.spec.ports.port.
#  4. kubectl apply --server-side creates and updates, managedFields name
#     the manager (operation Apply); a field dropped from the manifest goes;
#     another manager's apply of a field to another value is refused with
#     the 409 conflict kubectl explains, --force-conflicts takes it over;
#     a misspelt field is refused; the sim stops cleanly.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

command -v kubectl >/dev/null || die "kubectl is needed (the real peer of this test)"
command -v curl >/dev/null || die "curl is needed (make deps)"

# manifest NAME REPLICAS [FIELD...]: a Deployment; the extra words are
# misspellings to make (replicaz, imagee) or "noenv" to leave env out.
manifest() {
  local name=$1 replicas=$2 rkey=replicas ikey=image env=1
  shift 2
  for w in "$@"; do
    case $w in
      replicaz) rkey=replicaz ;;
      imagee) ikey=imagee ;;
      noenv) env=0 ;;
    esac
  done
  cat <<EOF
apiVersion: apps/v1
kind: Deployment
metadata:
  name: $name
  labels: {app: $name}
spec:
  $rkey: $replicas
  selector:
    matchLabels: {app: $name}
  template:
    metadata:
      labels: {app: $name}
    spec:
      containers:
      - name: $name
        $ikey: registry/$name:v1
        ports:
        - containerPort: 8080
EOF
  if ((env)); then printf '        env:\n        - name: MODE\n          value: "fast"\n'; fi
}

say "1. OpenAPI v3"
start_sim sim --memory --kubeconfig "$T/kubeconfig" --time-scale 100
curl -fsS "$URL/openapi/v3" -o "$T/oa.json"
eq "$(jq_py "$T/oa.json" 'sorted(d["paths"])')" \
  '["api/v1", "apis/apps/v1", "apis/gateway.networking.k8s.io/v1", "apis/networking.istio.io/v1", "apis/networking.k8s.io/v1", "apis/split.smi-spec.io/v1alpha2"]' \
  "the index lists every group-version (core, apps and the route objects' groups)"
APPS_URL=$(jq_py "$T/oa.json" 'd["paths"]["apis/apps/v1"]["serverRelativeURL"]')
[[ $APPS_URL == /openapi/v3/apis/apps/v1\?hash=* ]] || die "apps/v1 URL: $APPS_URL"
ok "apps/v1 document URL carries a hash"
curl -fsS "$URL$APPS_URL" -o "$T/apps.json"
eq "$(jq_py "$T/apps.json" '[p["name"] for p in d["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]["parameters"]]')" \
  '["dryRun", "fieldManager", "fieldValidation", "force"]' "Deployment PATCH parameters"
eq "$(jq_py "$T/apps.json" 'd["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"]["x-kubernetes-group-version-kind"]')" \
  '[{"group": "apps", "kind": "Deployment", "version": "v1"}]' "Deployment schema names its GVK"
curl -sS -o /dev/null -w '%{http_code}' "$URL/openapi/v3/apis/nope/v1" >"$T/nope.code"
eq "$(cat "$T/nope.code")" "404" "an unknown group-version is 404"

say "2. kubectl apply -f with validation"
manifest web 2 >"$T/web.yaml"
k apply1 apply -f "$T/web.yaml"
krc 0 apply1 "kubectl apply -f (default --validate)"
has "$T/apply1.out" "deployment.apps/web created" "apply created web"
hasnt "$T/apply1.err" "openapi" "no OpenAPI error"
manifest bad 2 replicaz imagee >"$T/bad.yaml"
k bad1 apply -f "$T/bad.yaml"
krc 1 bad1 "misspelt manifest refused"
has "$T/bad1.err" 'error when creating "'"$T"'/bad.yaml": Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec.replicaz", unknown field "spec.template.spec.containers[0].imagee"' \
  "kubectl prints the strict decoding error naming both fields"
k getbad get deploy bad
krc 1 getbad "the misspelt Deployment was not created"
manifest web 2 replicaz >"$T/web-bad.yaml"
k bad2 apply -f "$T/web-bad.yaml"
krc 1 bad2 "misspelt update refused"
has "$T/bad2.err" 'strict decoding error: unknown field "spec.replicaz"' "update error names the field"
eq "$(kget default deploy/web '{.spec.replicas}')" "2" "web unchanged by the refused update"
manifest web 3 >"$T/web3.yaml"
k apply2 apply -f "$T/web3.yaml"
krc 0 apply2 "apply of a changed manifest"
has "$T/apply2.out" "deployment.apps/web configured" "apply configured web"
eq "$(kget default deploy/web '{.spec.replicas}')" "3" "replicas updated to 3"
manifest warned 1 replicaz >"$T/warned.yaml"
k warn apply --validate=warn -f "$T/warned.yaml"
krc 0 warn "apply --validate=warn"
has "$T/warn.err" 'Warning: unknown field "spec.replicaz"' "--validate=warn prints kubectl's warning"

say "3. kubectl explain"
k explain1 explain deployment.spec.replicas
krc 0 explain1 "explain deployment.spec.replicas"
has "$T/explain1.out" "KIND:       Deployment" "explain names the kind"
has "$T/explain1.out" "FIELD: replicas <integer>" "explain names the field and its type"
has "$T/explain1.out" "Number of desired pods" "explain prints the description"
k explain2 explain service.spec.ports.port
krc 0 explain2 "explain service.spec.ports.port"
has "$T/explain2.out" "FIELD: port <integer>" "explain of a core kind"

say "4. kubectl apply --server-side"
manifest api 2 >"$T/api.yaml"
k ssa1 apply --server-side -f "$T/api.yaml"
krc 0 ssa1 "server-side apply creates"
has "$T/ssa1.out" "deployment.apps/api serverside-applied" "serverside-applied"
k mf1 get deploy api -o json --show-managed-fields
krc 0 mf1 "get with managed fields"
eq "$(jq_py "$T/mf1.out" '[(e["manager"], e["operation"]) for e in d["metadata"]["managedFields"]]')" \
  '[["kubectl", "Apply"]]' "one Apply entry of manager kubectl"
eq "$(jq_py "$T/mf1.out" '"f:replicas" in d["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]')" \
  "True" "kubectl owns spec.replicas"
manifest api 4 noenv >"$T/api4.yaml"
k ssa2 apply --server-side -f "$T/api4.yaml"
krc 0 ssa2 "server-side apply updates"
k get2 get deploy api -o json
eq "$(jq_py "$T/get2.out" '[d["spec"]["replicas"], d["spec"]["template"]["spec"]["containers"][0].get("env")]')" \
  '[4, null]' "replicas 4, and the env var dropped from the manifest is gone"
manifest api 5 noenv >"$T/api5.yaml"
k ssa3 apply --server-side --field-manager=other -f "$T/api5.yaml"
krc 1 ssa3 "another manager's apply conflicts"
has "$T/ssa3.err" 'Apply failed with 1 conflict: conflict with "kubectl" using apps/v1: .spec.replicas' \
  "kubectl prints the API server's conflict"
has "$T/ssa3.err" "--force-conflicts" "kubectl explains how to force"
eq "$(kget default deploy/api '{.spec.replicas}')" "4" "the conflicting apply changed nothing"
k ssa4 apply --server-side --field-manager=other --force-conflicts -f "$T/api5.yaml"
krc 0 ssa4 "--force-conflicts"
k mf2 get deploy api -o json --show-managed-fields
eq "$(jq_py "$T/mf2.out" 'd["spec"]["replicas"]')" "5" "forced apply set replicas 5"
eq "$(jq_py "$T/mf2.out" '[(e["manager"], "f:replicas" in e["fieldsV1"]["f:spec"]) for e in d["metadata"]["managedFields"]]')" \
  '[["kubectl", false], ["other", true]]' "replicas moved from kubectl to other"
k ssa5 apply --server-side -f "$T/bad.yaml"
krc 1 ssa5 "server-side apply of a misspelt manifest"
has "$T/ssa5.err" ".spec.replicaz: field not declared in schema" "the misspelt field is named"

stop_sim sim

