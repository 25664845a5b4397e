#!/usr/bin/env bash
# runbooks/deploy.lua resumed after its canary (issue 12): the run's result
# keeps the canary verdict. The canary step used to set `out.canary` inside
# its body, which a resumed run replays without running; the verdict is now
# the step's own (journaled) result. The run is driven with --detach: it
# suspends at the canary gate, is resumed through the canary to the
# production gate, and resumed again to the end; the final result is the
# copy of deploy.lua made here, which logs what it returns.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
source "$RUNBOOKS/deploy_setup.sh"

# The runbook under test, with one line added that shows its result.
mkdir -p "$W/rb"
sed 's/^    return out$/    log.info("deploy result: %s", json.encode(out))\n    return out/' \
  "$REPO/runbooks/deploy.lua" >"$W/rb/deploy.lua"
grep -q 'deploy result' "$W/rb/deploy.lua" || die "could not instrument deploy.lua"

# waiting_gate RUN: the gate the run waits on.
waiting_gate() {
  "$SUMMIT" status "$1" --json | py 'import json,sys
print(" ".join(w["gate"] for w in json.load(sys.stdin).get("waits") or [] if w.get("gate")))'
}

say "a deploy that suspends at each gate"
sm start run "$W/rb/deploy.lua" -p version=v2.2.0 \
  -p skip=window,checklist,prepare,staging,verify,finalize "${FAST[@]}" --detach
expect_rc 3 start "suspended at the canary gate"
run=$(newest_run)
eq "$(waiting_gate "$run")" canary "it waits on the canary gate"
SUMMIT_USER=alice "$SUMMIT" approve "$run" --gate canary >/dev/null

# --detach also suspends at the analysis' sleeps: resume until the
# production gate is what the run waits on.
: >"$T/canary.all"
for ((i = 0; i < 200; i++)); do
  sm canary resume "$run" --detach
  cat "$T/canary.out" >>"$T/canary.all"
  [[ $RC -eq 3 ]] || break
  [[ $(waiting_gate "$run") == production ]] && break
  sleep 0.1
done
expect_rc 3 canary "the canary ran; suspended at the production gate"
eq "$(waiting_gate "$run")" production "it waits on the production gate"
has "$T/canary.all" "ok canary v2.2.0" "the canary step completed in an earlier process"
SUMMIT_USER=alice "$SUMMIT" approve "$run" --gate production >/dev/null
SUMMIT_USER=bob "$SUMMIT" approve "$run" --gate production >/dev/null

say "the resume after the canary"
sm final resume "$run"
expect_rc 0 final "the resumed deploy"
expect_status "$run" succeeded "the run"
has "$T/final.out" "canary v2.2.0 (replayed)" "the canary step was replayed, not run"
grep 'deploy result:' "$T/final.out" >"$T/result" || die "no result line in the output"
has "$T/result" '"canary":"successful"' "the final result holds the canary verdict"
has "$T/result" '"approvers":["alice","bob"]' "and the production approvers"
