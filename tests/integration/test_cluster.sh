#!/usr/bin/env bash
# The cluster primitive (issue 4) against the simulated cluster and against
# scripted bad servers: every method, a SIGKILL during a rollout wait, a bad
# image's progress deadline, injected API errors, bad kubeconfigs, an
# unreachable server, malformed JSON, a 410 that forces a re-list and a
# truncated watch stream.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

W=$T/wd
cp "$RUNBOOKS"/cluster_*.lua "$W"/
cat >"$W/summit.lua" <<'LUA'
return {
  environments = {
    staging = { cluster = "sim", namespace = "summit-staging" },
    flaky   = { cluster = "flaky", namespace = "default" },
  },
  clusters = {
    sim = { sim = true, scenario = {
      rollout_seconds_per_pod = 4,
      bad_images = { "registry/web:broken" },
      exec = { { match = { "migrate", "status" }, stdout = "migrations up to date\n", exit_code = 0 } },
    } },
    flaky = { sim = true, scenario = { seed = 7, api_error_rate = 0.3, api_error_codes = { 503 } } },
  },
}
LUA
cd "$W"

say "every method of the client against the sim"
sm methods run cluster_methods.lua --env staging --time-scale 20
expect_rc 0 methods "cluster_methods.lua"
has "$T/methods.out" "succeeded" "the run succeeded"

say "SIGKILL while waiting for a rollout, then resume"
rm -rf "$SUMMIT_STATE_DIR"
sm v1 run cluster_roll.lua --env staging --time-scale 4 -p image=registry/web:v1
expect_rc 0 v1 "first deploy of v1"
bg_run roll run cluster_roll.lua --env staging --time-scale 4 --json
run=$NEW_RUN
wait_until 30 "the rollout wait to start" journal_has "$run" 3 started
sleep 0.5
kill -9 "$BG_PID"
bg_wait "$BG_PID"
eq "$RC" 137 "summit was killed during the wait"
eq "$(entry_field "$run" 3 state)" started "the wait was in flight"
sm resume resume "$run" --time-scale 4 --json
expect_rc 0 resume "resume after the kill"
set_image_key=2/1
starts=$("$SUMMIT" log "$run" --json | py 'import json,sys
print(sum(1 for l in sys.stdin for r in [json.loads(l)] if r["key"] == sys.argv[1] and r["state"] == "started"))' "$set_image_key")
eq "$starts" 1 "set_image ran once: one started row for its entry"
has "$T/resume.out" '"event":"step.replayed"' "the resume replayed the completed steps"
result=$("$SUMMIT" status "$run" --json | py 'import json,sys
d = json.load(sys.stdin)
print(d["status"])')
eq "$result" succeeded "the resumed run"
revs=$("$SUMMIT" log "$run" --json | py 'import json,sys
for l in sys.stdin:
    r = json.loads(l)
    if r["key"] == "3" and r["state"] == "started":
        print(r["attempt"]); break')
eq "$revs" 1 "the wait was re-entered, not restarted as a new attempt"

say "a bad image exceeds its progress deadline"
rm -rf "$SUMMIT_STATE_DIR"
sm bad run cluster_roll.lua --env staging --time-scale 20 -p image=registry/web:broken -p deadline=60
expect_rc 1 bad "rollout of a bad image"
has "$T/bad.out" 'deployment "web" exceeded its progress deadline' "kubectl's message"
has "$T/bad.out" "EPROGRESSDEADLINE" "the error code"

say "injected API errors: reads retried, writes reported"
cat >"$W/flaky.lua" <<'LUA'
return runbook { name = "flaky", run = function()
  local k = cluster()
  -- An injected 503 comes before the sim does anything: retrying is safe.
  step{ "seed", function()
    k:create({ apiVersion = "v1", kind = "ConfigMap", metadata = { name = "c" }, data = { n = "0" } })
  end, retries = 6, backoff = { initial = "10ms" } }
  local reads = step("reads", function()
    for i = 1, 30 do assert(k:get("configmap/c").data.n == "0") end
    return 30
  end)
  local failed = step("writes", function()
    local n = 0
    for i = 1, 30 do
      local ok, e = pcall(k.patch, k, "configmap/c", { data = { w = tostring(i) } }, { type = "merge" })
      if not ok then
        assert(e.status == 503, "a write error reports the server's answer: " .. tostring(e))
        n = n + 1
      end
    end
    return n
  end)
  log.info("reads %d, failed writes %d", reads, failed)
  assert(failed > 0, "with a 30% error rate some writes fail and are reported")
end }
LUA
rm -rf "$SUMMIT_STATE_DIR"
sm flaky run flaky.lua --env flaky
expect_rc 0 flaky "30 reads all succeed through injected 503s"
has "$T/flaky.out" "failed writes" "writes that hit an injected error are reported"

say "bad kubeconfigs and unreachable servers"
printf '\x00\x01garbage: [\n\t- nope' >"$W/notyaml"
sm k1 run cluster_bad.lua -p case=not-yaml -p arg="$W/notyaml" --json
expect_rc 0 k1 "the runbook catches the error"
has "$T/k1.out" "EKUBECONFIG" "not YAML: EKUBECONFIG"
has "$T/k1.out" "notyaml" "the error names the file"
cat >"$W/kc.yaml" <<'YAML'
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "http://127.0.0.1:1"}
users:
- name: u
  user: {token: "sekret-token-for-test"}
contexts:
- name: real
  context: {cluster: c, user: u}
current-context: real
YAML
sm k2 run cluster_bad.lua -p case=no-context -p arg="$W/kc.yaml" --json
has "$T/k2.out" "nope" "a missing context is named"
hasnt "$T/k2.out" "sekret-token-for-test" "the token is not in the output"
# A port that was just free: nothing listens there.
closed=$(py 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sm k3 run cluster_bad.lua -p case=server -p arg="http://127.0.0.1:$closed" --json
has "$T/k3.out" "ECONNREFUSED" "an unreachable server: ECONNREFUSED"
has "$T/k3.out" "127.0.0.1:$closed" "the error names the server"

for mode in expired truncated badjson; do
  rm -f "$T/port.$mode"
  python3 "$HERE/fake_kube.py" "$mode" "$T/port.$mode" "$T/count.$mode" &
  echo $! >"$T/pids/fake.$mode"
  wait_until 10 "fake server $mode" test -s "$T/port.$mode"
  port=$(<"$T/port.$mode")
  sm "f$mode" run cluster_bad.lua -p case=server -p arg="http://127.0.0.1:$port" --json
  # Stopped here: the cleanup's `wait` would otherwise wait for it forever.
  kill "$(<"$T/pids/fake.$mode")" 2>/dev/null || true
  wait "$(<"$T/pids/fake.$mode")" 2>/dev/null || true
  expect_rc 0 "f$mode" "runbook against the $mode server"
done
has "$T/fexpired.out" '\"ok\":true' "after a 410 the client re-lists and finds the rollout done"
has "$T/count.expired" "list 2" "it listed twice (once more after the 410)"
has "$T/ftruncated.out" "EWATCH" "a truncated watch stream is an error"
has "$T/ftruncated.out" "truncated" "that says so"
has "$T/fbadjson.out" "EBADJSON" "malformed JSON from the server is a clear error"

say "an exec credential plugin: its token is used, and stored nowhere"
python3 "$HERE/fake_kube.py" auth "$T/port.auth" "$T/count.auth" &
echo $! >"$T/pids/fake.auth"
wait_until 10 "fake server auth" test -s "$T/port.auth"
cat >"$W/plugin.sh" <<SH
#!/bin/sh
# A credential plugin: reads KUBERNETES_EXEC_INFO, prints an ExecCredential.
# It also records what it was given: the exec info and the kubeconfig's env.
printf '%s\\n' "\$KUBERNETES_EXEC_INFO" >>"$T/exec-info"
printf 'project=%s empty=[%s]\\n' "\$CLOUDSDK_CORE_PROJECT" "\${EMPTY-unset}" >>"$T/exec-env"
case \$KUBERNETES_EXEC_INFO in *ExecCredential*) ;; *) exit 3 ;; esac
echo '{"apiVersion":"'"\${PLUGIN_API:-client.authentication.k8s.io/v1}"'","kind":"ExecCredential","status":{"token":"plugin-token-4711","expirationTimestamp":"2099-01-01T00:00:00Z"}}'
SH
chmod +x "$W/plugin.sh"
cat >"$W/exec-kc.yaml" <<YAML
apiVersion: v1
kind: Config
clusters:
- {name: c, cluster: {server: "http://127.0.0.1:$(<"$T/port.auth")"}}
- {name: cinfo, cluster: {server: "http://127.0.0.1:$(<"$T/port.auth")", tls-server-name: api.internal,
   certificate-authority-data: "$(printf 'THE-CA-PEM' | base64)"}}
users:
- name: u
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ./plugin.sh
      interactiveMode: Never
      env: [{name: CLOUDSDK_CORE_PROJECT, value: my-project}, {name: EMPTY}]
- name: beta
  user: {exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: ./plugin.sh,
         env: [{name: PLUGIN_API, value: client.authentication.k8s.io/v1beta1}]}}
- {name: file, user: {tokenFile: tokens/current}}
- name: info
  user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: ./plugin.sh,
         interactiveMode: IfAvailable, provideClusterInfo: true}}
- name: always
  user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: ./plugin.sh,
         interactiveMode: Always}}
- name: absentplugin
  user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: no-such-plugin-x,
         interactiveMode: Never, installHint: "install no-such-plugin-x from the team wiki"}}
- {name: both, user: {token: inline-token, tokenFile: tokens/current}}
- {name: absent, user: {tokenFile: tokens/absent}}
contexts:
- {name: x, context: {cluster: c, user: u, namespace: ns1}}
- {name: beta, context: {cluster: c, user: beta}}
- {name: file, context: {cluster: c, user: file}}
- {name: info, context: {cluster: cinfo, user: info}}
- {name: always, context: {cluster: c, user: always}}
- {name: absentplugin, context: {cluster: c, user: absentplugin}}
- {name: both, context: {cluster: c, user: both}}
- {name: absent, context: {cluster: c, user: absent}}
current-context: x
YAML
cat >"$W/plugin.lua" <<'LUA'
return runbook { name = "plugin", run = function()
  local k = cluster{ kubeconfig = "exec-kc.yaml" }
  step("a", function() return k:get("cm/x").data.a end)
  step("b", function() return k:get("cm/x").data.a end)
end }
LUA
sm plugin run plugin.lua --json
expect_rc 0 plugin "a run authenticated by an exec plugin"
eq "$(grep -c 'auth Bearer plugin-token-4711' "$T/count.auth")" 2 "both requests carried the plugin's token"
for f in "$SUMMIT_STATE_DIR"/state.db* "$SUMMIT_STATE_DIR"/logs/* "$T/plugin.out" "$T/plugin.err"; do
  hasnt "$f" "plugin-token-4711" "the token is not in $(basename "$f")"
done
eq "$(lines "$T/exec-info")" 1 "the plugin ran once: its credential is cached until it expires"
info=$(<"$T/exec-info")
eq "$(py 'import json, sys; print(json.dumps(json.loads(sys.argv[1]), sort_keys=True))' "$info")" \
  '{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", "spec": {"interactive": false}}' \
  "KUBERNETES_EXEC_INFO: the exec config's apiVersion, never interactive"
eq "$(<"$T/exec-env")" "project=my-project empty=[]" "the kubeconfig's env reaches the plugin (a value-less one empty)"

say "a v1beta1 exec plugin gets a v1beta1 exec info"
: >"$T/exec-info"
cat >"$W/plugin_beta.lua" <<'LUA'
return runbook { name = "plugin-beta", run = function()
  local k = cluster{ kubeconfig = "exec-kc.yaml", context = "beta" }
  step("a", function() return k:get("cm/x").data.a end)
end }
LUA
sm beta run plugin_beta.lua --json
expect_rc 0 beta "a run authenticated by a v1beta1 exec plugin"
has "$T/exec-info" '"apiVersion":"client.authentication.k8s.io/v1beta1"' "the exec config's apiVersion is passed on"
eq "$(grep -c 'auth Bearer plugin-token-4711' "$T/count.auth")" 3 "its token was used"

say "provideClusterInfo hands the plugin the cluster; interactiveMode Always is refused"
: >"$T/exec-info"
# plugin_ctx.lua: one step reading through the kubeconfig context ctx.
cat >"$W/plugin_ctx.lua" <<'LUA'
return runbook { name = "plugin-ctx", params = { ctx = { type = "string" } }, run = function(p)
  local k = cluster{ kubeconfig = "exec-kc.yaml", context = p.ctx }
  step("a", function() return k:get("cm/x").data.a end)
end }
LUA
sm info run plugin_ctx.lua -p ctx=info
expect_rc 0 info "a run whose plugin asks for the cluster's info"
eq "$(py 'import json, sys; c = json.loads(open(sys.argv[1]).readline())["spec"]["cluster"]
print(c["server"].startswith("http://127.0.0.1:"), c["tls-server-name"], c["certificate-authority-data"], sorted(c))' "$T/exec-info")" \
  "True api.internal $(printf 'THE-CA-PEM' | base64) ['certificate-authority-data', 'server', 'tls-server-name']" \
  "spec.cluster: the server, its TLS server name and the CA as base64 data"
: >"$T/exec-info"
sm beta2 run plugin_beta.lua
hasnt "$T/exec-info" '"cluster"' "without provideClusterInfo the plugin gets no cluster"
n_before=$(lines "$T/count.auth")
sm always run plugin_ctx.lua -p ctx=always
expect_rc 1 always "a plugin that must be interactive"
has "$T/always.out" "plugin.sh' needs interactiveMode Always, but a summit run has no terminal" \
  "is refused: a run has no terminal"
sm absentplugin run plugin_ctx.lua -p ctx=absentplugin
expect_rc 1 absentplugin "a plugin that is not installed"
has "$T/absentplugin.out" "install no-such-plugin-x from the team wiki" "the error carries the installHint"
eq "$(lines "$T/count.auth")" "$n_before" "neither sent a request"

say "a kubeconfig tokenFile: relative to the kubeconfig, trimmed, re-read on every request"
mkdir -p "$W/tokens"
printf 'file-token-xyz\n' >"$W/tokens/current"
cat >"$W/tokenfile.lua" <<'LUA'
return runbook { name = "tokenfile", run = function()
  local k = cluster{ kubeconfig = "exec-kc.yaml", context = "file" }
  step("a", function() return k:get("cm/x").data.a end)
  exec({ "sh", "-c", "printf 'rotated\\n\\n' >tokens/current" })
  step("b", function() return k:get("cm/x").data.a end)
end }
LUA
sm tokenfile run tokenfile.lua --json
expect_rc 0 tokenfile "a run authenticated by a token file"
eq "$(grep -c '^auth Bearer file-token-xyz$' "$T/count.auth")" 1 "the first request sent the file's token, trailing newline trimmed"
eq "$(grep -c '^auth Bearer rotated$' "$T/count.auth")" 1 "the second sent the rotated token"

say "a tokenFile wins over an inline token (client-go); an unreadable one is an error"
sm both run plugin_ctx.lua -p ctx=both
expect_rc 0 both "a run whose user has both token and tokenFile"
eq "$(grep -c '^auth Bearer inline-token$' "$T/count.auth")" 0 "the inline token was not sent"
eq "$(grep -c '^auth Bearer rotated$' "$T/count.auth")" 2 "the token file's token was sent"
n_before=$(lines "$T/count.auth")
sm absent run plugin_ctx.lua -p ctx=absent
expect_rc 1 absent "a run whose token file cannot be read"
has "$T/absent.out" "EKUBEAUTH: cannot read the token file" "the error is EKUBEAUTH"
has "$T/absent.out" "tokens/absent" "it names the token file"
eq "$(lines "$T/count.auth")" "$n_before" "no request went out without credentials"
kill "$(<"$T/pids/fake.auth")" 2>/dev/null || true
wait "$(<"$T/pids/fake.auth")" 2>/dev/null || true

echo
echo "test_cluster: all $N_CHECKS checks passed"
