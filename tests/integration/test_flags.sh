#!/usr/bin/env bash
# summit.flags (issue 7, stdlib) against `summit sim serve`, the ConfigMap
# checked with the real kubectl:
#  1. set/enable/disable create the ConfigMap with one key per flag;
#  2. a run that fails after changing flags puts the old values back, and
#     deletes the ConfigMap it created;
#  3. a stepped rollout 10/50/100 killed (SIGKILL) in the pause at 50%
#     resumes at 50% (10% replayed, nothing redone) and ends at 100%;
#  4. a value that is not a percentage is an EFLAG error; misuse raises at
#     once naming the argument.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

command -v kubectl >/dev/null || die "kubectl is needed (the real peer of this test)"

cat >"$T/scenario.lua" <<'LUA'
return { namespaces = { "prod" } }
LUA
start_sim sim --memory --scenario "$T/scenario.lua" --time-scale 50 --kubeconfig "$T/kubeconfig"

sim_workdir flags_set.lua flags_bad.lua

# data CONFIGMAP: its data as sorted JSON ("" when it does not exist).
data() {
  k data -n prod get "cm/$1" -o json
  if [[ $RC -ne 0 ]]; then echo ""; return; fi
  py 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])).get("data", {}), sort_keys=True))' "$T/data.out"
}
# result_json NAME: what the runbook printed as RESULT (its return value), as
# sorted JSON, from the --json events of `sm NAME`.
result_json() {
  py 'import json,sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e.get("event") == "log" and e["message"].startswith("RESULT "):
        print(json.dumps(json.loads(e["message"][7:]), sort_keys=True))' "$T/$1.out"
}

say "set, enable, disable: one key per flag in the ConfigMap"
sm set run flags_set.lua --env prod -p percent=25 --json
expect_rc 0 set "flags.set/enable/disable"
eq "$(data feature-flags)" '{"dark-mode": "100", "legacy-search": "0", "new-checkout": "25"}' \
  "feature-flags holds the percentages as decimal strings"
k one -n prod get cm/feature-flags -o 'jsonpath={.data.new-checkout}'
eq "$(cat "$T/one.out")" 25 "an application reads data[\"new-checkout\"] = 25"
eq "$(result_json set)" '{"all": {"dark-mode": 100, "legacy-search": 0, "new-checkout": 25}, "disabled": {"value": "0"}, "enabled": {"value": "100"}, "set": {"created": true, "value": "25"}, "value": 25}' \
  "the results: the first set created the ConfigMap, get and all read the numbers back"

say "a failing run puts the previous values back"
sm fail run flags_set.lua --env prod -p percent=40 -p fail=true
expect_rc 1 fail "set 40, then a failure"
expect_status "$(newest_run)" rolled_back "the failed run"
has "$T/fail.out" "undo flag new-checkout = 40%" "the undo step of the change ran"
eq "$(data feature-flags)" '{"dark-mode": "100", "legacy-search": "0", "new-checkout": "25"}' \
  "new-checkout is 25 again, the others as they were"
sm fail2 run flags_set.lua --env prod -p configmap=other-flags -p fail=true
expect_rc 1 fail2 "a failing run on a ConfigMap that did not exist"
eq "$(data other-flags)" "" "the ConfigMap it created is deleted again"
sm fail3 run flags_set.lua --env prod -p flag=search-v2 -p percent=5 -p fail=true
expect_rc 1 fail3 "a failing run adding a new flag"
eq "$(data feature-flags)" '{"dark-mode": "100", "legacy-search": "0", "new-checkout": "25"}' \
  "the flag it added is removed, the ConfigMap kept"

say "rollout 10/50/100: SIGKILL in the pause at 50%, then resume"
bg_run roll run flags_set.lua --env prod -p action=rollout -p flag=search-v2 -p pause=4s --json
run=$NEW_RUN
# Key 2 is the 50% step: 2/1 the change, 2/2 the check, 2/3 the pause.
wait_until 60 "the pause at 50%" journal_has "$run" 2/3 started
kill -9 "$BG_PID"
bg_wait "$BG_PID"
eq "$RC" 137 "summit was killed in the pause at 50%"
k mid -n prod get cm/feature-flags -o 'jsonpath={.data.search-v2}'
eq "$(cat "$T/mid.out")" 50 "the flag is at 50% in the ConfigMap"
sm resume resume "$run" --json
expect_rc 0 resume "the resumed rollout"
has "$T/resume.out" '"event":"step.replayed","ts":' "the resume replays"
replayed=$(py 'import json,sys
print(" ".join(e["key"] for l in open(sys.argv[1]) for e in [json.loads(l)] if e.get("event") == "step.replayed"))' "$T/resume.out")
[[ " $replayed " == *" 1 "* && " $replayed " == *" 2/1 "* ]] || die "10% and the 50% change not replayed: $replayed"
ok "10% and the change to 50% were replayed"
for key in 1/1 2/1 3/1; do
  n=$("$SUMMIT" log "$run" --json | py 'import json,sys
print(sum(1 for l in sys.stdin for r in [json.loads(l)] if r["key"] == sys.argv[1] and r["state"] == "started"))' "$key")
  eq "$n" 1 "$(entry_field "$run" "$key" name) ran once"
done
k end -n prod get cm/feature-flags -o 'jsonpath={.data.search-v2}'
eq "$(cat "$T/end.out")" 100 "search-v2 at 100% in the end"
eq "$(result_json resume)" '{"all": {"dark-mode": 100, "legacy-search": 0, "new-checkout": 25, "search-v2": 100}, "rollout": [10, 50, 100], "value": 100}' \
  "the run's result: the steps and every flag"

say "a rollout that fails goes back to where the flag was"
sm rfail run flags_set.lua --env prod -p action=rollout -p fail=true
expect_rc 1 rfail "rollout then a failure"
eq "$(data feature-flags)" '{"dark-mode": "100", "legacy-search": "0", "new-checkout": "25", "search-v2": "100"}' \
  "new-checkout is 25 again after 10, 50, 100 were undone"

say "a value that is not a percentage"
k patch -n prod patch cm/feature-flags --type merge -p '{"data":{"new-checkout":"lots"}}'
krc 0 patch "an operator writes 'lots'"
sm read run flags_set.lua --env prod -p action=read
expect_rc 1 read "reading it"
has "$T/read.out" "EFLAG: flag 'new-checkout' holds 'lots', not a percentage from 0 to 100" "EFLAG names flag and value"

say "misuse raises at once, naming the argument"
sm bad1 run flags_bad.lua --env prod -p case=percent
expect_rc 1 bad1 "percent 150"
has "$T/bad1.out" "flags_bad.lua:9: flags.set: bad argument 'percent' (a percentage from 0 to 100 expected, got 150)" "percent named, at the runbook's line"
sm bad2 run flags_bad.lua --env prod -p case=name
expect_rc 1 bad2 "a name with a space"
has "$T/bad2.out" "flags_bad.lua:11: flags.enable: bad argument 'name'" "name named"
sm bad3 run flags_bad.lua --env prod -p case=steps
expect_rc 1 bad3 "decreasing steps"
has "$T/bad3.out" "flags.rollout: bad argument 'steps' (percentages must increase)" "steps named"

cd "$T"
stop_sim sim
