#!/usr/bin/env bash
# runbooks/hotfix.lua (issue 7, part 2) end to end: a real git repository
# (a local bare repo as origin) where v1.0.0 is in production and
# hotfix/v1.0.1 carries the fix; `summit sim serve` with the real kubectl.
# The hotfix checks out its branch (it starts from the production tag),
# runs the fast-track tests and security scan, deploys staging first, asks
# the emergency gate (a Platform Lead: alice) with the justification in the
# gate's reason and bind, goes straight to production (rolling), verifies
# at once, tags v1.0.1 on the branch, pushes it, and backports the branch
# to main. Also: no justification is refused at load (exit 2); bob, who
# is no Platform Lead, cannot release the emergency gate.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
git_identity
GIT_DIR_LUA='"app"'
RELEASE_EXTRA='remote = "origin",'
source "$RUNBOOKS/deploy_setup.sh"

say "a repository: v1.0.0 released, main moved on, hotfix/v1.0.1 from the tag"
git init -q --bare "$T/origin.git"
git init -q app
(
  cd app
  echo "auth = broken" >auth.conf && git add . && git commit -qm "v1.0.0"
  git tag -a v1.0.0 -m "Release v1.0.0"
  echo "feature" >feature.txt && git add . && git commit -qm "main: a new feature"
  git checkout -qb hotfix/v1.0.1 v1.0.0
  echo "auth = fixed" >auth.conf && git commit -qam "fix: token refresh"
  git checkout -q main
  git remote add origin "$T/origin.git" && git push -q origin main hotfix/v1.0.1 v1.0.0
)
ok "repository ready"

say "misuse: no justification"
sm nojust run hotfix -p version=v1.0.1 -p from=v1.0.0
expect_rc 2 nojust "a hotfix without a justification"
has "$T/nojust.err" "justification" "names the missing param"

say "the hotfix"
J="CVE-2026-4242: token refresh lets expired sessions in"
GATES=([emergency]="bob! alice")
drive hotfix run hotfix -p version=v1.0.1 -p from=v1.0.0 -p "justification=$J" \
  -p monitor_wait=1s -p verify_count=2 -p verify_interval=1s
expect_rc 0 hotfix "the hotfix run"
run=$DRIVEN_RUN
expect_status "$run" succeeded "the hotfix"
has "$T/hotfix.approvals" "bob holds none of the roles gate 'emergency' requires (platform-lead)" \
  "bob's approval was refused: he is no Platform Lead"
eq "$(kget summit-staging deploy/web '{.spec.template.spec.containers[0].image}')" registry/web:v1.0.1 \
  "staging runs v1.0.1 (deployed first)"
eq "$(kget summit-production deploy/web '{.spec.template.spec.containers[0].image}/{.status.readyReplicas}')" \
  registry/web:v1.0.1/20 "production runs v1.0.1 on 20 ready replicas"
has "$W/commands.log" "test v1.0.1" "fast-track tests ran"
has "$W/commands.log" "security_scan v1.0.1" "the security scan ran"
has "$W/commands.log" "smoke staging" "staging smoke tests ran"
has "$W/commands.log" "check_auth production" "the immediate verification checked auth"
# staging before the gate, production after it
py 'import sys
out = open(sys.argv[1]).read()
a, b, c = out.find("staging: rollout status"), out.find("approval gate \x27emergency\x27"), out.find("rolling web: image")
sys.exit(0 if 0 <= a < b < c else 1)' "$T/hotfix.out" || die "order: staging, then the gate, then production"
ok "staging first, then the emergency gate, then production"

say "git: tagged on the branch, pushed, backported to main"
eq "$(git -C "$T/origin.git" rev-parse v1.0.1^{commit})" "$(git -C app rev-parse hotfix/v1.0.1)" \
  "origin has the tag v1.0.1 on the hotfix commit"
git -C "$T/origin.git" merge-base --is-ancestor hotfix/v1.0.1 main || die "main does not contain the fix"
ok "origin's main contains the hotfix"
eq "$(git -C app show main:auth.conf)" "auth = fixed" "main has the fix"
eq "$(git -C app show main:feature.txt)" "feature" "and keeps its own work"

say "audit: the emergency approval and its justification"
audit_verify
audit_actions "$run" >"$T/actions"
has "$T/actions" "approval.granted" "audit: approval.granted"
"$SUMMIT" audit export --run "$run" 2>/dev/null >"$T/audit.json"
grep '"release.hotfix_approved"' "$T/audit.json" >"$T/hf" || die "no release.hotfix_approved record"
has "$T/hf" "$J" "release.hotfix_approved records the justification"
has "$T/hf" '"approvers":["alice"]' "and alice as the approver"
grep '"approval.requested"' "$T/audit.json" >"$T/req" || die "no approval.requested record"
has "$T/req" "$J" "the gate's request carries the justification"
