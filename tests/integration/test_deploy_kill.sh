#!/usr/bin/env bash
# runbooks/deploy.lua killed with SIGKILL in the middle of a progressive
# production rollout (issue 7), on `summit sim serve` with the real kubectl:
# the run is killed in the monitoring pause of the 50% step (production at
# 10 canary + 10 stable pods); `summit resume` replays the gate, the 10%
# step and the changes of the 50% step that completed (step.replayed; each
# cluster change has one 'started' row), continues at 50% and promotes.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
source "$RUNBOOKS/deploy_setup.sh"

# named_started_rows RUN NAME: 'started' rows of the entries named NAME.
named_started_rows() {
  "$SUMMIT" log "$1" --json | py 'import json,sys
print(sum(1 for l in sys.stdin for r in [json.loads(l)] if r.get("name") == sys.argv[1] and r["state"] == "started"))' "$2"
}
# in_pause RUN: a sleep inside the 50% step is in flight.
in_pause() {
  "$SUMMIT" status "$1" --json | py 'import json,sys
es = json.load(sys.stdin).get("entries", [])
k = [e["key"] for e in es if e.get("name") == "progressive web 50%" and e["state"] == "started"]
sys.exit(0 if k and any(e["key"].startswith(k[0] + "/") and e["kind"] == "sleep" and e["state"] == "started" for e in es) else 1)'
}

say "a progressive deploy of v3.0.0, killed at 50%"
GATES=([production]="alice bob")
bg_run run run deploy -p version=v3.0.0 -p skip=checklist,prepare,staging,canary "${FAST[@]}" \
  -p monitor_wait=4s
pid=$BG_PID
run=$NEW_RUN
wait_until 30 "the production gate" "$SUMMIT" runs --waiting
SUMMIT_USER=alice "$SUMMIT" approve "$run" --gate production >/dev/null
SUMMIT_USER=bob "$SUMMIT" approve "$run" --gate production >/dev/null
wait_until 45 "the pause of the 50% step" in_pause "$run"
kill -9 "$pid"
bg_wait "$pid"
eq "$RC" 137 "summit was killed (SIGKILL)"
eq "$(kget summit-production deploy/web-canary '{.spec.replicas}/{.spec.template.spec.containers[0].image}')" \
  10/registry/web:v3.0.0 "at the kill: web-canary 10 of 20 on v3.0.0"
eq "$(kget summit-production deploy/web '{.spec.replicas}/{.spec.template.spec.containers[0].image}')" \
  10/registry/web:v1.0.0 "and web 10 on v1.0.0"

say "resume: continues at 50%, nothing done twice"
sm resume resume "$run" --json
expect_rc 0 resume "summit resume"
expect_status "$run" succeeded "the resumed run"
py 'import json,sys
names = {}
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e.get("event") == "step.replayed": names[e.get("name")] = True
for n in ("deployment window", "progressive web: saved state", "progressive web 10%",
          "web-canary at 10 of 20 replicas", "wait for web-canary", "web at 10 replicas"):
    if n not in names: sys.exit("not replayed: " + n)' "$T/resume.out" || die "the resume did not replay what was done"
ok "the window, the saved state, the 10% step and the 50% changes were replayed"
for n in "web-canary at 2 of 20 replicas" "web at 18 replicas" "web-canary at 10 of 20 replicas" \
  "web at 10 replicas" "progressive web: promote"; do
  eq "$(named_started_rows "$run" "$n")" 1 "'$n' ran once"
done
eq "$(kget summit-production deploy/web '{.spec.replicas}/{.status.readyReplicas}/{.spec.template.spec.containers[0].image}')" \
  20/20/registry/web:v3.0.0 "production: web at 20 replicas on v3.0.0"
k nocanary -n summit-production get deploy/web-canary
krc 1 nocanary "the canary Deployment is gone after the promotion"
audit_verify
audit_actions "$run" >"$T/actions"
has "$T/actions" "approval.granted" "audit: the production approval"
has "$T/actions" "release.released" "audit: the release record"
[[ $(grep -c '^approval.granted$' "$T/actions") -eq 1 ]] || die "the gate was not asked again"
ok "the gate was granted once"
