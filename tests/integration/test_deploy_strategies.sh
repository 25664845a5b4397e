#!/usr/bin/env bash
# runbooks/deploy.lua's other production strategies (issue 7), after the
# canary phase, on `summit sim serve` with the real kubectl:
#  1. strategy=canary: the 5% canary analysed, then 5 -> 25 -> 100% with a
#     monitoring pause after 5 and 25, then the promotion: web on the new
#     image at 20 replicas, no canary.
#  2. strategy=blue-green: the canary from the canary phase is given up
#     (the stable whole again), web-blue is created from web with the new
#     image at full size, service/web switched to color=blue; the old
#     Deployment keeps running for a switch back.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
source "$RUNBOOKS/deploy_setup.sh"

say "1. strategy=canary"
GATES=([canary]="alice" [production]="alice bob")
drive can run deploy -p version=v2.0.0 -p strategy=canary -p skip=checklist,prepare,staging "${FAST[@]}"
expect_rc 0 can "deploy with the canary strategy"
expect_status "$DRIVEN_RUN" succeeded "the run"
for w in "canary web 5%: web-canary at 1 of 20 replicas" "progressive web 5%" "progressive web 25%" \
  "web-canary at 5 of 20 replicas" "progressive web 100%" "progressive web: promote" \
  "production at 5%" "production at 25%"; do
  has "$T/can.out" "$w" "step: $w"
done
hasnt "$T/can.out" "production at 100%" "no pause after the last weight"
eq "$(kget summit-production deploy/web '{.spec.template.spec.containers[0].image}/{.spec.replicas}/{.status.readyReplicas}')" \
  registry/web:v2.0.0/20/20 "web on v2.0.0, 20 of 20 ready"
k nocanary -n summit-production get deploy/web-canary
krc 1 nocanary "no canary left"

say "2. strategy=blue-green"
drive bg run deploy -p version=v2.1.0 -p strategy=blue-green -p skip=checklist,prepare,staging "${FAST[@]}"
expect_rc 0 bg "deploy with the blue-green strategy"
expect_status "$DRIVEN_RUN" succeeded "the run"
has "$T/bg.out" "abort canary web" "the canary of the canary phase was given up"
eq "$(kget summit-production deploy/web-blue '{.spec.template.spec.containers[0].image}/{.spec.replicas}/{.status.readyReplicas}')" \
  registry/web:v2.1.0/20/20 "web-blue runs v2.1.0 at 20 replicas, ready"
eq "$(kget summit-production svc/web '{.spec.selector.color}')" blue "service/web selects color=blue"
eq "$(kget summit-production deploy/web '{.spec.template.spec.containers[0].image}/{.spec.replicas}')" \
  registry/web:v2.0.0/20 "the previous Deployment still runs v2.0.0 at 20, for a switch back"
k nocanary -n summit-production get deploy/web-canary
krc 1 nocanary "no canary left"
audit_verify
audit_actions "$DRIVEN_RUN" >"$T/actions"
has "$T/actions" "release.released" "audit: released"
