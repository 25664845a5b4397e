#!/usr/bin/env bash
# runbooks/deploy.lua with its git steps (git = "app", remote origin: a
# local bare repository), on `summit sim serve`: prepare creates
# release/v2.0.0 from main, runs the configured version bump and changelog
# commands (real scripts that edit files), commits them, checks the tree is
# clean, runs the preflight commands and pushes the branch; staging merges
# it into main (a merge commit) and pushes main; finalize tags v2.0.0
# (annotated) and pushes the tag. A dirty tree stops the preflight (EDIRTY)
# before anything is deployed.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
git_identity
GIT_DIR_LUA='"app"'
RELEASE_EXTRA='remote = "origin",'
COMMANDS_EXTRA='version_bump = { "python3", "'$T'/wd/bin/bump.py" }, changelog = { "python3", "'$T'/wd/bin/changelog.py" }, release_pr = cmd("release_pr"),'
source "$RUNBOOKS/deploy_setup.sh"
cat >"$W/bin/bump.py" <<'PY'
import sys
open("VERSION", "w").write(sys.argv[1].lstrip("v") + "\n")
PY
cat >"$W/bin/changelog.py" <<'PY'
import sys
old = open("CHANGELOG.md").read()
open("CHANGELOG.md", "w").write("## " + sys.argv[1] + "\n\n- token refresh\n\n" + old)
PY
git init -q --bare "$T/origin.git"
git init -q app
(
  cd app
  echo "1.0.0" >VERSION && echo "# Changelog" >CHANGELOG.md && git add . && git commit -qm "v1.0.0"
  git remote add origin "$T/origin.git" && git push -q -u origin main
)
origin() { git -C "$T/origin.git" "$@"; }

say "a dirty tree stops the preflight"
echo "scratch" >app/VERSION.tmp
GATES=()
drive dirty run deploy -p version=v2.0.0 -p skip=window,checklist,canary "${FAST[@]}"
expect_rc 1 dirty "a deploy from a dirty tree"
has "$T/dirty.out" "EDIRTY" "refused with EDIRTY"
has "$T/dirty.out" "VERSION.tmp" "naming the file"
hasnt "$T/dirty.out" "staging: deploy" "staging was not touched"
eq "$(kget summit-staging deploy/web '{.spec.template.spec.containers[0].image}')" registry/web:v1.0.0 \
  "staging still on v1.0.0"
rm app/VERSION.tmp
git -C app checkout -q main

say "the release with its git steps"
GATES=([production]="alice bob")
drive rel run deploy -p version=v2.0.0 -p skip=window,checklist,canary "${FAST[@]}"
expect_rc 0 rel "the deploy"
expect_status "$DRIVEN_RUN" succeeded "the run"
eq "$(origin show release/v2.0.0:VERSION)" 2.0.0 "origin's release/v2.0.0 has the bumped VERSION"
has <(origin show release/v2.0.0:CHANGELOG.md) "## v2.0.0" "and the changelog entry"
eq "$(origin log -1 --format=%s release/v2.0.0)" "Bump version to v2.0.0" "committed as the bump"
has "$W/commands.log" "release_pr v2.0.0 release/v2.0.0" "the release PR command ran"
eq "$(origin log -1 --format=%s main)" "Release v2.0.0" "main on origin has the release merge"
eq "$(origin rev-list --parents -n1 main | wc -w)" 3 "a merge commit (two parents)"
eq "$(origin cat-file -t v2.0.0)" tag "v2.0.0 is an annotated tag on origin"
eq "$(origin rev-parse v2.0.0^{commit})" "$(origin rev-parse main)" "on the merged main"
eq "$(kget summit-production deploy/web '{.spec.template.spec.containers[0].image}')" registry/web:v2.0.0 \
  "production runs v2.0.0"
eq "$(git -C app status --porcelain)" "" "the work tree is left clean"
audit_verify
