#!/usr/bin/env bash
# Issue 14 item 6 / the sim's scenario lives in a file and is kept with
# the sim's state; replacement pods take the scenario's readiness time
# (docs/sim.md "Scenario knobs", "Serving it").
#
#  1. Bad scenario files are refused with where: a JSON error as
#     file:line:col, an unknown knob listing the known ones, a .lua file's
#     unknown global or global assignment as file:line.
#  2. `sim serve --scenario F --state S`, kubectl creates deployments;
#     after a restart with only --state, kubectl sees them and the scenario
#     still applies (a new deployment with a bad image never pulls).
#  3. An explicit --scenario replaces the kept one (and says so); the next
#     start with only --state keeps the replacement.
#  4. A deleted pod's replacement is not ready at once: the Deployment's
#     readyReplicas goes 3 -> 2 -> 3, seen in that order by `kubectl get
#     -w` (the states in order, never how long it took).
#  5. summit.lua: `scenario = "scenarios/slow.json"` is relative to
#     summit.lua (the run's cwd is elsewhere); a misspelt knob in it is a
#     configuration error with summit.lua's line; `sim serve --state` on
#     the run's state file serves the run's cluster with its scenario.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

command -v kubectl >/dev/null || die "kubectl is needed (the real peer of this test)"

# refused NAME FILE TEXT WHAT: sim serve refuses the scenario FILE (exit
# 1) with TEXT on stderr.
refused() {
  sm "$1" sim serve --memory --listen 127.0.0.1:0 --scenario "$2"
  expect_rc 1 "$1" "$4: refused"
  has "$T/$1.err" "$3" "$4: the message says where"
}

# bad_pull APP: waits for a pod of APP to fail its image pull.
bad_pull() {
  wait_until 20 "$1's pod to fail its pull" bash -c \
    "kubectl --kubeconfig '$T/kubeconfig' --cache-dir '$T/kcache' get pods -l app=$1 --no-headers | grep -Eq 'ErrImagePull|ImagePullBackOff'"
}

say "1. bad scenario files say where"
printf '{"bad_images": ["a"],\n "seed": 2,\n "max_pods": [1,]}\n' >"$T/syntax.json"
refused syn "$T/syntax.json" "$T/syntax.json:3:17: invalid JSON" "a JSON syntax error (file:line:col)"
echo '{"rollout_second_per_pod": 3}' >"$T/knob.json"
refused knob "$T/knob.json" "$T/knob.json: unknown knob \"rollout_second_per_pod\" (known: api_error_codes," \
  "an unknown knob, with the known ones"
has "$T/knob.err" "rollout_seconds_per_pod, seed" "the known knobs are listed"
printf 'return {\n  seed = 2,\n  rollout_seconds_per_pod = slow * 2,\n}\n' >"$T/glob.lua"
refused glob "$T/glob.lua" "$T/glob.lua:3: unknown global 'slow'" "a .lua scenario reading a global"
printf 'seed = 2\nreturn {}\n' >"$T/set.lua"
refused set "$T/set.lua" "$T/set.lua:1: a scenario file sets no globals ('seed = ...')" \
  "a .lua scenario setting a global"

say "2. the scenario is kept with the state"
cat >"$T/slow.json" <<'EOF'
{ "bad_images": ["registry/web:bad*"], "rollout_seconds_per_pod": 5 }
EOF
STATE=$T/sim-state.json
start_sim sim --state "$STATE" --scenario "$T/slow.json" --time-scale 100 \
  --kubeconfig "$T/kubeconfig"
has "$T/sim.out" "scenario: $T/slow.json, kept with the state" "serve says the scenario is kept"
k c1 create deployment web --image=registry/web:v1 --replicas=3
krc 0 c1 "create deployment web"
k st1 rollout status deployment/web --timeout=40s
krc 0 st1 "web rolled out"
stop_sim sim
has "$STATE" '"bad_images":["registry/web:bad*"]' "the state file holds the scenario"

start_sim sim2 --state "$STATE" --time-scale 100 --kubeconfig "$T/kubeconfig"
has "$T/sim2.out" "scenario: kept with the state (from $T/slow.json)" \
  "without --scenario the kept one is used, and serve says so"
eq "$(kget default deploy/web '{.status.readyReplicas}')" 3 "kubectl sees web after the restart"
k c2 create deployment broken --image=registry/web:bad-1
krc 0 c2 "create deployment broken"
bad_pull broken
ok "the kept scenario applies: a bad image never pulls"
stop_sim sim2

say "3. an explicit --scenario replaces the kept one"
echo '{"rollout_seconds_per_pod": 5}' >"$T/good.json"
start_sim sim3 --state "$STATE" --scenario "$T/good.json" --time-scale 100 \
  --kubeconfig "$T/kubeconfig"
has "$T/sim3.out" "scenario: $T/good.json, replacing the one kept with the state, kept with the state" \
  "serve says the new scenario replaces the kept one"
k c3 create deployment fixed --image=registry/web:bad-2 --replicas=2
k st3 rollout status deployment/fixed --timeout=40s
krc 0 st3 "with the replacement scenario a bad-* image is no longer bad"
stop_sim sim3
start_sim sim4 --state "$STATE" --time-scale 100 --kubeconfig "$T/kubeconfig"
has "$T/sim4.out" "scenario: kept with the state (from $T/good.json)" "the replacement is kept"

say "4. a replacement pod takes the scenario's readiness time"
k w0 get deploy web -o 'jsonpath={.status.readyReplicas}'
eq "$(cat "$T/w0.out")" 3 "web is 3/3 ready"
(
  timeout 60 kubectl --kubeconfig "$T/kubeconfig" --cache-dir "$T/kcache" get deploy web -w \
    --output-watch-events -o 'jsonpath={.type} {.status.readyReplicas}{.object.status.readyReplicas}{"\n"}' \
    >"$T/watch.out" 2>"$T/watch.err" &
  echo $! >"$T/pids/watch"
)
wait_until 20 "the watch to list web" grep -q "ADDED 3" "$T/watch.out"
k pods get pods -l app=web -o 'jsonpath={.items[0].metadata.name}'
POD=$(cat "$T/pods.out")
k del delete pod "$POD"
krc 0 del "kubectl delete pod $POD"
wait_until 30 "readyReplicas back to 3" bash -c \
  "grep -A100 'MODIFIED 2' '$T/watch.out' | grep -q 'MODIFIED 3'"
ok "readyReplicas went 3 -> 2 -> 3"
k np get pods -l app=web -o 'jsonpath={.items[*].metadata.name}'
hasnt "$T/np.out" "$POD" "the deleted pod is gone"
eq "$(wc -w <"$T/np.out")" 3 "three pods again"
stop_sim sim4

say "5. summit.lua: a scenario file relative to summit.lua"
W=$T/wd
mkdir -p "$W/scenarios"
cp "$RUNBOOKS/cluster_roll.lua" "$W/"
cat >"$W/summit.lua" <<'LUA'
return {
  environments = { staging = { cluster = "sim" } },
  clusters = { sim = { sim = true, scenario = "scenarios/slow.json" } },
}
LUA
echo '{"rollout_seconds_per_pod": 4, "bad_images": ["registry/web:broken"]}' >"$W/scenarios/slow.json"
cd "$T"
sm run run "$W/cluster_roll.lua" --config "$W/summit.lua" --env staging --time-scale 40
expect_rc 0 run "a run whose sim scenario is scenarios/slow.json, cwd elsewhere"
RUNSTATE=$SUMMIT_STATE_DIR/sim-sim.json
has "$RUNSTATE" '"bad_images":["registry/web:broken"]' "the run's sim state keeps the scenario"
start_sim sim5 --state "$RUNSTATE" --time-scale 100 --kubeconfig "$T/kubeconfig"
has "$T/sim5.out" "scenario: kept with the state (from $W/scenarios/slow.json)" \
  "sim serve on the run's state uses the run's scenario"
eq "$(kget default deploy/web '{.spec.template.spec.containers[0].image}')" registry/web:v2 \
  "kubectl sees the run's deployment"
k c5 create deployment broken --image=registry/web:broken
bad_pull broken
ok "the run's scenario applies under sim serve"
stop_sim sim5
echo '{"rollout_seconds_per_pod": 4, "bad_imagez": []}' >"$W/scenarios/slow.json"
sm bad run "$W/cluster_roll.lua" --config "$W/summit.lua" --env staging
expect_rc 2 bad "a misspelt knob in summit.lua's scenario file"
has "$T/bad.err" "$W/summit.lua:3: clusters.sim.scenario: $W/scenarios/slow.json: unknown knob \"bad_imagez\"" \
  "summit.lua's line, the scenario file and the knob"
cd "$W"
sm val validate cluster_roll.lua
expect_rc 2 val "summit validate checks summit.lua's sim scenario too (docs/cli.md)"
has "$T/val.err" "clusters.sim.scenario: $W/scenarios/slow.json: unknown knob \"bad_imagez\"" \
  "validate names the scenario's misspelt knob"
