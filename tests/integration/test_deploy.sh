#!/usr/bin/env bash
# runbooks/deploy.lua (issue 7, part 1) end to end on `summit sim serve`,
# the cluster asserted with the real kubectl, approvals given by named
# people from another shell (summit approve) while the run waits:
#  1. a clean deploy: deployment window, checklist (automatic items by
#     configured commands, the rest acknowledged by carol), preflight
#     commands, staging (deploy, rollout status, smoke + integration,
#     health over HTTP, migration status by exec and logs), canary at 5%
#     approved by alice and analysed, production approved by alice
#     (platform-lead) and bob (senior-engineer), progressive 10 -> 50 ->
#     100, verification (critical paths, error rate, P95, feature flags),
#     finalize (notes, SBOM, provenance, upload, notification). Both
#     namespaces end on the new image at full size, the run succeeded,
#     its audit verifies and holds the approvals and the release records.
#  2. inside a freeze: refused before anything is touched (EWINDOW, exit
#     1); with a justification, an override gate approved by alice lets it
#     through (window.override audited with the justification).
#  3. misuse: an unknown strategy or phase is refused at load (exit 2).
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
source "$RUNBOOKS/deploy_setup.sh"

say "1. a clean deploy of v2.0.0, from the checklist to finalize"
GATES=([checklist-pre-deployment]="carol" [canary]="alice" [production]="alice bob")
drive clean run deploy -p version=v2.0.0 "${FAST[@]}"
expect_rc 0 clean "deploy v2.0.0"
run=$DRIVEN_RUN
expect_status "$run" succeeded "the deploy"
eq "$(kget summit-production deploy/web '{.spec.template.spec.containers[0].image}')" registry/web:v2.0.0 \
  "production runs v2.0.0"
eq "$(kget summit-production deploy/web '{.spec.replicas}/{.status.readyReplicas}')" 20/20 \
  "production at its 20 replicas, all ready"
k nocanary -n summit-production get deploy/web-canary
krc 1 nocanary "no canary Deployment is left in production"
eq "$(kget summit-staging deploy/web '{.spec.template.spec.containers[0].image}')" registry/web:v2.0.0 \
  "staging runs v2.0.0"
eq "$(kget summit-staging deploy/web '{.spec.replicas}/{.status.readyReplicas}')" 3/3 "staging at 3 replicas"
eq "$(kget summit-production cm/feature-flags '{.data.new-checkout}')" 100 "the feature flag is untouched"
for c in "ci v2.0.0" "test v2.0.0" "verify v2.0.0" "security_scan v2.0.0" "build v2.0.0" "smoke staging" \
  "integration staging" "smoke production" "check_auth production" "check_api production" \
  "check_database production" "check_graph production" "release_notes v2.0.0" "sbom v2.0.0" \
  "provenance v2.0.0" "upload v2.0.0"; do
  has "$W/commands.log" "$c" "configured command ran: $c"
done
has "$T/clean.out" "progressive web 10%" "the rollout went through 10%"
has "$T/clean.out" "progressive web 50%" "... 50%"
has "$T/clean.out" "progressive web: promote" "... and was promoted"
has "$T/clean.out" "staging migration status" "staging's migration status was read"
has "$T/clean.out" "ok staging health" "staging's health was checked over HTTP (/healthz)"
has "$T/clean.approvals" "gate 'production' of run $run as bob: the gate is released (2 of 2)" \
  "production needed alice and bob"
audit_verify
audit_actions "$run" >"$T/actions"
for a in checklist.ack approval.granted canary.verdict release.verify release.released run.finished; do
  has "$T/actions" "$a" "audit: $a"
done
[[ $(grep -c '^approval.granted$' "$T/actions") -eq 3 ]] || die "3 gates granted (checklist, canary, production)"
ok "three gates granted"
"$SUMMIT" audit export --run "$run" 2>/dev/null | grep '"canary.verdict"' >"$T/verdict"
has "$T/verdict" '"verdict":"successful"' "the canary verdict was successful"
for m in error_rate p50 p95 p99 success_rate db_p95 memory cpu; do
  has "$T/verdict" "\"metric\":\"$m\"" "the canary analysis measured $m"
done
"$SUMMIT" audit export --run "$run" 2>/dev/null | grep '"release.released"' >"$T/released"
has "$T/released" '"approvers":["alice","bob"]' "the release record names the approvers"

say "2. inside a freeze: refused, then allowed with an override"
DENY="{ from = '$(date -u -d yesterday +%F)', to = '$(date -u -d tomorrow +%F)', reason = 'test freeze', name = 'tf' }"
write_config
sm frozen run deploy -p version=v2.1.0 "${FAST[@]}"
expect_rc 1 frozen "a deploy inside the freeze"
has "$T/frozen.out" "EWINDOW" "refused with EWINDOW"
has "$T/frozen.out" "test freeze" "naming the freeze"
expect_status "$(newest_run)" failed "the refused run"
eq "$(kget summit-production deploy/web '{.spec.template.spec.containers[0].image}')" registry/web:v2.0.0 \
  "production untouched"
eq "$(kget summit-staging deploy/web '{.spec.template.spec.containers[0].image}')" registry/web:v2.0.0 \
  "staging untouched"
GATES=([window-override]="alice" [production]="alice bob")
drive override run deploy -p version=v2.1.0 -p "justification=CVE-2026-1234 fix, CISO agreed" \
  -p skip=checklist,prepare,staging,canary,finalize "${FAST[@]}"
expect_rc 0 override "the deploy with an approved override"
expect_status "$DRIVEN_RUN" succeeded "the overridden deploy"
eq "$(kget summit-production deploy/web '{.spec.template.spec.containers[0].image}/{.status.readyReplicas}')" \
  registry/web:v2.1.0/20 "production runs v2.1.0"
"$SUMMIT" audit export --run "$DRIVEN_RUN" 2>/dev/null | grep '"window.override"' >"$T/override" || die "no window.override record"
has "$T/override" "CVE-2026-1234 fix, CISO agreed" "window.override records the justification"
has "$T/override" '"alice"' "and who approved it"
sm verify2 audit verify
expect_rc 0 verify2 "summit audit verify"

say "3. misuse"
DENY="" write_config
sm badstrat run deploy -p version=v3.0.0 -p strategy=yolo
expect_rc 2 badstrat "an unknown strategy"
has "$T/badstrat.err" "progressive" "names the strategies"
sm badskip run deploy -p version=v3.0.0 -p skip=stagin
expect_rc 2 badskip "an unknown phase to skip"
has "$T/badskip.err" "unknown phase 'stagin'" "names it"
