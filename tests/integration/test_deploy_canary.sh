#!/usr/bin/env bash
# runbooks/deploy.lua when things go wrong (issue 7), on `summit sim serve`
# with the real kubectl:
#  1. a canary answering 3% of requests with 500: the analysis fails on
#     the error rate (> 1% and above production), the canary is aborted,
#     production is untouched (v1.0.0 at 20 replicas, no canary), the
#     production gate is never opened, the run ends rolled_back and its
#     audit holds the failed verdict and release.canary_rolled_back.
#  2. a production step whose image never becomes ready (progressive):
#     the 10% step's wait fails, the undo path puts production back on
#     the previous image at 20 replicas; rolled_back.
#     The notification reaches the configured webhook (a local server).
#  1b. an analysis without data is inconclusive: the gate
#     canary-inconclusive asks a human; alice rejects: rolled back.
#  3. the same with strategy=rolling: the Deployment itself is rolled
#     back to the previous revision's image.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
start_http_server   # the webhook receiver
HOOK=$URL
RELEASE_EXTRA='rollout_timeout = "4s",'
NOTIFY_EXTRA='notifications = { channels = { ops = { url = "'$HOOK'/count", format = "generic" } } },'
hook_hits() { curl -s "$HOOK/stats" | py 'import json,sys; print(json.load(sys.stdin)["hits"].get("/count", 0))'; }
source "$RUNBOOKS/deploy_setup.sh"

prod_image() { kget summit-production deploy/web '{.spec.template.spec.containers[0].image}'; }

say "1. a canary with a 3% error rate"
GATES=([canary]="alice")
drive bad run deploy -p version=v2.0.0-errors -p skip=checklist,prepare,staging "${FAST[@]}"
expect_rc 1 bad "a deploy whose canary fails its analysis"
run=$DRIVEN_RUN
expect_status "$run" rolled_back "the run"
has "$T/bad.out" "ECANARY" "failed with ECANARY"
has "$T/bad.out" "error_rate" "naming the error rate"
has "$T/bad.out" "abort canary web" "the canary was aborted"
hasnt "$T/bad.out" "approval gate 'production'" "production's gate never opened"
eq "$(prod_image)" registry/web:v1.0.0 "production still runs v1.0.0"
eq "$(kget summit-production deploy/web '{.spec.replicas}/{.status.readyReplicas}')" 20/20 \
  "production at its 20 replicas"
k nocanary -n summit-production get deploy/web-canary
krc 1 nocanary "the canary Deployment is gone"
audit_verify
audit_actions "$run" >"$T/actions"
has "$T/actions" "release.canary_rolled_back" "audit: release.canary_rolled_back"
has "$T/actions" "approval.granted" "audit: the canary gate's approval"
"$SUMMIT" audit export --run "$run" 2>/dev/null | grep '"canary.verdict"' >"$T/verdict"
has "$T/verdict" '"verdict":"failed"' "audit: the failed verdict"
has "$T/verdict" "critical metric 'error_rate' failed" "decided by the error rate"
eq "$(hook_hits)" 1 "the webhook got one notification (canary_rolled_back)"
has "$T/bad.out" "notified channel 'ops'" "sent with notify() to summit.lua's channel"
has "$T/actions" "release.canary_rolled_back" "audit: release.canary_rolled_back"

say "1b. an analysis without data (the canary's app label matches no series): inconclusive, a human decides"
CANARY_APP=ghost write_config
GATES=([canary]="alice" [canary-inconclusive]="alice~")
drive blind run deploy -p version=v2.0.1 -p skip=checklist,prepare,staging "${FAST[@]}"
expect_rc 1 blind "a deploy whose inconclusive canary is rejected"
expect_status "$DRIVEN_RUN" rolled_back "the run"
has "$T/blind.out" "inconclusive" "the analysis was inconclusive"
has "$T/blind.approvals" "SUMMIT_USER=alice summit reject RUN --gate canary-inconclusive" \
  "the gate canary-inconclusive was asked, and alice rejected it"
has "$T/blind.out" "EREJECTED" "the rejection failed the run"
hasnt "$T/blind.out" "approval gate 'production'" "production's gate never opened"
eq "$(prod_image)" registry/web:v1.0.0 "production still runs v1.0.0"
eq "$(kget summit-production deploy/web '{.spec.replicas}')" 20 "at 20 replicas"
k nocanary -n summit-production get deploy/web-canary
krc 1 nocanary "the undo removed the canary"
write_config

say "2. progressive with an image that never becomes ready"
GATES=([production]="alice bob")
drive broken run deploy -p version=v2.1.0-broken -p skip=checklist,prepare,staging,canary "${FAST[@]}"
expect_rc 1 broken "a production rollout that never becomes ready"
expect_status "$DRIVEN_RUN" rolled_back "the run"
has "$T/broken.out" "undo progressive web: saved state" "the undo path ran"
eq "$(prod_image)" registry/web:v1.0.0 "production back on v1.0.0"
eq "$(kget summit-production deploy/web '{.spec.replicas}/{.status.readyReplicas}')" 20/20 \
  "at 20 replicas, all ready"
k nocanary -n summit-production get deploy/web-canary
krc 1 nocanary "no canary left"

say "3. rolling with an image that never becomes ready: the previous revision"
drive rolling run deploy -p version=v2.2.0-broken -p strategy=rolling \
  -p skip=checklist,prepare,staging,canary "${FAST[@]}"
expect_rc 1 rolling "a rolling update that never becomes ready"
expect_status "$DRIVEN_RUN" rolled_back "the run"
has "$T/rolling.out" "undo rolling web: saved state" "the undo path ran"
eq "$(prod_image)" registry/web:v1.0.0 "production back on the previous image"
eq "$(kget summit-production deploy/web '{.status.readyReplicas}/{.status.updatedReplicas}')" 20/20 \
  "all 20 replicas ready on it"
k hist -n summit-production rollout history deploy/web
krc 0 hist "kubectl rollout history"
sm verify2 audit verify
expect_rc 0 verify2 "summit audit verify"
