#!/usr/bin/env bash
# Issue 14 item 4: summit validate warns of replay traps, with file:line and
# the fix (docs/authoring.md#replay-traps), and --strict makes any warning
# exit 2.
#
#  1. A step body that assigns a local declared outside it, or a field of
#     one (the write is lost when the step replays), is warned at its line
#     with the fix; os.time, os.clock and math.random outside a step too.
#     Without --strict the runbook is still valid: exit 0.
#  2. What replays the same is not warned: a step body that assigns only
#     its own locals, one that reads (not writes) a local from outside,
#     now()/random(), and os.time/math.random inside a step.
#  3. --strict exits 2 on the warnings, and on a missing version.
#  4. The trap runbooks/deploy.lua had before fb85f43 (out.canary set in the
#     canary step's body) is warned.
#  5. Every shipped runbook (runbooks/, examples/runbooks/, examples/*.lua)
#     passes validate --strict.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
ROOT=$(cd "$HERE/../.." && pwd)

say "1. the traps are warned with file:line and the fix; exit 0"
cat >"$T/traps.lua" <<'RB'
local out, n, list = {}, 0, {}
local function stamp() return os.time() end
return runbook {
  name = "traps", version = "1.0.0",
  run = function()
    step("set field", function() out.canary = "pass" end)
    step{ "set local", function() n = n + 1 end, retries = 2 }
    step("append", function() list[#list + 1] = "x" end)
    local t = os.clock()
    local r = math.random(6)
    return { out = out, started = stamp(), t = t, r = r }
  end,
}
RB
sm traps validate "$T/traps.lua"
expect_rc 0 traps "warnings alone keep validate's exit 0"
has "$T/traps.out" "is valid" "the runbook is still valid"
err=$T/traps.err
has "$err" "warning: $T/traps.lua:6: replay trap: the step body assigns 'out.canary', a field of 'out'" \
  "a field of an outer local set in a step body: warned at its line"
has "$err" "warning: $T/traps.lua:7: replay trap: the step body assigns 'n', a local declared outside the body" \
  "an outer local set in a step{...} body: warned at its line"
has "$err" "warning: $T/traps.lua:8: replay trap: the step body assigns 'list[...]'" \
  "an element of an outer table set in a step body: warned"
has "$err" "fix: return the value from the step and assign the step's result outside, e.g. local v = step(" \
  "the step-body warning names the fix"
has "$err" "$T/traps.lua:2: replay trap: os.time used outside a step" "os.time in a helper function: warned"
has "$err" "$T/traps.lua:9: replay trap: os.clock used outside a step" "os.clock in run(): warned"
has "$err" "$T/traps.lua:10: replay trap: math.random used outside a step" "math.random in run(): warned"
has "$err" "(fix: use now(), or call it inside a step)" "the os.time/os.clock fix: now()"
has "$err" "(fix: use random(), or call it inside a step)" "the math.random fix: random()"
eq "$(grep -c 'replay trap' "$err")" 6 "six traps, one warning each"

sm traps_json validate --json "$T/traps.lua"
expect_rc 0 traps_json "--json: warnings keep exit 0"
has "$T/traps_json.out" '"valid":true' "--json: still valid on stdout"
has "$T/traps_json.err" "replay trap" "--json: the warnings on stderr"

say "2. what replays the same is not warned"
cat >"$T/clean.lua" <<'RB'
local base = { image = "web" }
local limit = 3
return runbook {
  name = "clean", version = "1.0.0",
  run = function()
    local got = step("own locals", function()
      local t = {}
      t.image = base.image .. ":v2"
      local k = 0
      for i = 1, limit do k = k + i end
      t.k = k
      return t
    end)
    local when = step("time inside a step", function() return os.time() + math.random(6) end)
    local out = {}
    out.got = got
    out.when = when
    out.now = now()
    out.roll = random(6)
    return out
  end,
}
RB
sm clean validate --strict "$T/clean.lua"
expect_rc 0 clean "own locals, reads of outer ones, now()/random(): --strict passes"
hasnt "$T/clean.err" "replay trap" "no warning"
has "$T/clean.out" "runbook 'clean' 1.0.0 is valid" "and it is valid"

say "3. --strict makes the warnings exit 2"
sm traps_strict validate --strict "$T/traps.lua"
expect_rc 2 traps_strict "--strict with replay traps"
has "$T/traps_strict.err" "$T/traps.lua: 6 warnings, and --strict makes them errors" \
  "--strict says why it failed"
hasnt "$T/traps_strict.out" "is valid" "--strict: not reported valid"
cat >"$T/noversion.lua" <<'RB'
return runbook { name = "noversion", run = function() end }
RB
sm nover validate "$T/noversion.lua"
expect_rc 0 nover "a missing version alone: a warning, exit 0"
sm nover_strict validate --strict "$T/noversion.lua"
expect_rc 2 nover_strict "--strict with a missing version"
sm badflag validate --strikt "$T/clean.lua"
expect_rc 2 badflag "a misspelt option is a usage error"
has "$T/badflag.err" "unknown option --strikt" "naming the option"

say "4. the trap deploy.lua had before fb85f43 is warned"
mkdir -p "$T/old/runbooks"
# The canary phase as it was: the verdict set in the step's body, lost
# when a resumed deploy replays the step (test_deploy_resume_result).
sed -e 's/      out.canary = step("canary " .. s.version, function()/      step("canary " .. s.version, function()/' \
    -e 's/        return v.verdict/        out.canary = v.verdict\n        return v.verdict/' \
    "$ROOT/runbooks/deploy.lua" >"$T/old/runbooks/deploy.lua"
grep -q '        out.canary = v.verdict' "$T/old/runbooks/deploy.lua" ||
  die "could not rebuild the old deploy.lua (runbooks/deploy.lua changed shape)"
sm olddeploy validate --strict "$T/old/runbooks/deploy.lua"
expect_rc 2 olddeploy "the old deploy.lua fails --strict"
line=$(grep -n '        out.canary = v.verdict' "$T/old/runbooks/deploy.lua" | cut -d: -f1)
has "$T/olddeploy.err" "deploy.lua:$line: replay trap: the step body assigns 'out.canary'" \
  "out.canary in the canary step's body is warned at its line"

say "5. every shipped runbook passes validate --strict"
n=0
# From examples/, so its summit.lua (found by walking up) gives the
# examples' team modules (modules = { "lib" }).
cd "$ROOT/examples"
for f in "$ROOT"/runbooks/*.lua "$ROOT"/examples/runbooks/*.lua "$ROOT"/examples/demo.lua \
         "$ROOT"/examples/rollout.lua; do
  sm shipped validate --strict "$f"
  if [[ $RC -ne 0 ]]; then
    show shipped
    die "$f: validate --strict exited $RC"
  fi
  n=$((n + 1))
done
cd "$T"
((n >= 10)) || die "expected at least 10 shipped runbooks, found $n"
ok "$n shipped runbooks pass validate --strict"
