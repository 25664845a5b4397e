#!/usr/bin/env bash
# runbooks/verify.lua (issue 7, part 5): post-deployment verification on
# its own, against `summit sim serve` (the real kubectl changes the
# cluster between runs):
#  1. a healthy production: smoke, auth/API/database/graph, error rate
#     < 0.5%, P95 < 500 ms, the feature flag at 100%: verdict passed.
#  2. a slow image (P95 ~ 1 s): failed on P95, exit 1; with strict=false
#     the run succeeds and returns the failed verdict.
#  3. a failing critical path (auth) and a flag at 50%: both named.
#  Each verdict is in the audit (release.verify); audit verify passes.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
source "$RUNBOOKS/deploy_setup.sh"
V=(-p verify_count=2 -p verify_interval=1s)
# verdict NAME: the JSON after "verdict" in the output of `sm NAME`.
verdict() { sed -n 's/^ *info verdict //p' "$T/$1.out"; }

say "1. a healthy production"
sm pass run verify --env production "${V[@]}"
expect_rc 0 pass "verify"
expect_status "$(newest_run)" succeeded "the verify run"
eq "$(verdict pass | py 'import json,sys; d = json.load(sys.stdin); print(d["verdict"], d["env"], len(d["checks"]), d["flags"][0]["have"])')" \
  "passed production 5 100" "verdict passed: 5 checks, new-checkout at 100"
for c in "smoke production" "check_auth production" "check_api production" "check_database production" \
  "check_graph production"; do
  has "$W/commands.log" "$c" "ran: $c"
done
has "$T/pass.out" "measurement 2 of 2" "error rate and P95 measured twice"

say "2. a slow image: P95 over 500 ms"
k slow -n summit-production set image deploy/web web=registry/web:v1.0.1-slow
krc 0 slow "kubectl set image (latency x20)"
k st -n summit-production rollout status deploy/web --timeout=60s
krc 0 st "kubectl rollout status"
sm slow run verify --env production "${V[@]}"
expect_rc 1 slow "verify of a slow production"
expect_status "$(newest_run)" failed "the verify run"
has "$T/slow.out" "verification of production failed" "says what failed"
has "$T/slow.out" "p95" "names P95"
hasnt "$T/slow.out" "check_auth FAILED" "the checks themselves passed"
sm lax run verify --env production -p strict=false "${V[@]}"
expect_rc 0 lax "verify with strict=false"
eq "$(verdict lax | py 'import json,sys; d = json.load(sys.stdin); print(d["verdict"], d["metrics"]["verdict"])')" \
  "failed failed" "returns the failed verdict"
eq "$(kget summit-production deploy/web '{.spec.template.spec.containers[0].image}')" registry/web:v1.0.1-slow \
  "verify changes nothing in the cluster"

say "3. a failing critical path and a flag at 50%"
k back -n summit-production set image deploy/web web=registry/web:v1.0.0
k st -n summit-production rollout status deploy/web --timeout=60s
krc 0 st "back on v1.0.0"
touch "$W/fail-check_auth"
k flag -n summit-production patch cm feature-flags --type merge -p '{"data":{"new-checkout":"50"}}'
krc 0 flag "kubectl patch the flag to 50"
sm two run verify --env production "${V[@]}"
expect_rc 1 two "verify with auth failing and the flag at 50"
has "$T/two.out" "check_auth" "names the auth check"
has "$T/two.out" "flag new-checkout is 50, expected 100" "names the flag"
eq "$(kget summit-production cm/feature-flags '{.data.new-checkout}')" 50 "the flag is left as it is"

say "audit"
audit_verify
"$SUMMIT" audit export 2>/dev/null | grep '"release.verify"' >"$T/verdicts" || die "no release.verify records"
eq "$(grep -c '"verdict":"passed"' "$T/verdicts")" 1 "one passed verdict in the audit"
eq "$(grep -c '"verdict":"failed"' "$T/verdicts")" 3 "three failed ones"
