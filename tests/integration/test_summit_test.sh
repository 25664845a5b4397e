#!/usr/bin/env bash
# summit test (issue 14 item 5, docs/testing.md): the runner, on a small
# project of its own:
#  1. a passing file: a line per case, "N passed, 0 failed", exit 0; a
#     6-hour sleep and a 15-minute rollout cost no wall time (the case
#     would outlive this test's timeout otherwise); a kill after every
#     journal record of a run is resumed to the same end; a gate nobody
#     answers suspends the run, and its 2h timeout passes on the virtual
#     clock (run:advance): the resumed run fails on it. Without arguments
#     the project of the nearest summit.lua is tested.
#  2. seeded bugs: a copy of the runbook whose deploy step sets the wrong
#     image makes its test FAIL with the file:line of the failed assertion,
#     exit 1; so does a copy of the shipped runbooks/verify.lua that never
#     fails, under its shipped tests (which pass on the original); a
#     runtime error and a syntax error in a test file are reported with
#     theirs.
#  3. misuse: a misspelt option, a missing path, a directory without
#     tests: exit 2.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
SM_TIMEOUT=240

P=$T/proj
mkdir -p "$P/runbooks" "$P/tests"
cat >"$P/summit.lua" <<'LUA'
return {
  runbooks = { "runbooks" },
  environments = { prod = { cluster = "sim", namespace = "prod" } },
  clusters = { sim = { sim = true, namespace = "prod", scenario = {
    rollout_seconds_per_pod = 10,
    namespaces = { "prod" },
    deployments = { { name = "web", namespace = "prod", image = "registry/web:v1", replicas = 3 } },
  } } },
  approvers = { alice = { "lead" } },
}
LUA
cat >"$P/runbooks/ship.lua" <<'LUA'
return runbook {
  name = "ship",
  params = { image = { type = "string", required = true } },
  run = function(p)
    local k = cluster("sim")
    step("set image", function() return k:set_image("deployment/web", "web", p.image) end)
    step("rolled out", function() return k:rollout_status("deployment/web", { timeout = "2h" }).replicas end)
    sleep("6h")
    local a = approval.require{ gate = "go", roles = { "lead" }, timeout = "2h" }
    return { image = p.image, by = a.approvers[1].actor }
  end,
}
LUA
cat >"$P/tests/ship_test.lua" <<'LUA'
local t = require("summit.test")

t.case("ships, approved by alice", function(ctx)
  local start = ctx:now()
  local run = ctx:run("ship", { image = "registry/web:v2" },
                      { approve = { go = "alice" }, scenario = { rollout_seconds_per_pod = 300 } })
  t.eq(run.status, "succeeded", "the run")
  t.eq(run:result(), { image = "registry/web:v2", by = "alice" }, "the result")
  t.eq(ctx:image("prod", "web"), "registry/web:v2", "the image")
  t.gt(ctx:now() - start, (6 * 60 + 10) * 60 * 1000, "ms on the clock (15 min of rollout, 6 h of sleep)")
end)

t.case("killed after every journal record, resumed", function(ctx)
  local probe = ctx:run("ship", { image = "registry/web:v2" }, { approve = { go = "alice" } })
  local n = #probe:journal()
  t.gt(n, 5, "journal records")
  for k = 1, n - 1 do
    local c = ctx:fresh()
    local run = c:run("ship", { image = "registry/web:v2" }, { approve = { go = "alice" }, kill_at = k })
    t.eq(run.status, "killed", "killed after record " .. k)
    run:resume()
    t.eq(run.status, "succeeded", "resumed after a kill at record " .. k)
    t.eq(c:image("prod", "web"), "registry/web:v2", "the image after a kill at record " .. k)
  end
end)

t.case("the gate times out on the virtual clock", function(ctx)
  local run = ctx:run("ship", { image = "registry/web:v2" })
  t.eq(run.status, "suspended", "waiting at the gate")
  t.eq(run:info().waits[1].gate, "go", "the gate")
  run:advance("3h")
  run:resume()
  t.eq(run.status, "failed", "the run after the gate's timeout")
  t.has(run:output(), "go", "the error names the gate")
end)
LUA

say "1. a passing file"
sm pass test "$P/tests/ship_test.lua"
expect_rc 0 pass "summit test of a passing file"
has "$T/pass.out" "ok   ships, approved by alice" "a line per case"
has "$T/pass.out" "ok   killed after every journal record, resumed" "kills at every record"
has "$T/pass.out" "ok   the gate times out on the virtual clock" "the gate's timeout"
has "$T/pass.out" "3 passed, 0 failed" "the closing line"
(cd "$P" && RC=0 && timeout -k 5 240 "$SUMMIT" test >"$T/default.out" 2>&1 || RC=$?; echo $RC >"$T/default.rc")
eq "$(cat "$T/default.rc")" 0 "without arguments: the project of the nearest summit.lua"
has "$T/default.out" "3 passed, 0 failed" "... its tests/ found"

say "2. seeded bugs are found, with the file:line of the assertion"
sed 's/k:set_image("deployment\/web", "web", p.image)/k:set_image("deployment\/web", "web", "registry\/web:v1")/' \
  "$P/runbooks/ship.lua" >"$T/ship.lua"
cmp -s "$T/ship.lua" "$P/runbooks/ship.lua" && die "the seeded bug was not applied"
cp "$T/ship.lua" "$P/runbooks/ship.lua"
sm bug test "$P/tests/ship_test.lua"
expect_rc 1 bug "summit test with the seeded bug"
line=$(grep -n '"the image")' "$P/tests/ship_test.lua" | cut -d: -f1)
has "$T/bug.out" "FAIL ships, approved by alice ($P/tests/ship_test.lua:$line): the image: expected \"registry/web:v2\", got \"registry/web:v1\"" \
  "the failed assertion, its file:line, expected and actual"
has "$T/bug.out" "passed, 2 failed" "the closing line counts the failures"

ROOT=$(cd "$HERE/../.." && pwd)
mkdir -p "$T/shipped/tests"
cp "$ROOT/runbooks/tests/summit.lua" "$ROOT/runbooks/tests/verify_test.lua" "$T/shipped/tests/"
cp "$ROOT/runbooks/verify.lua" "$T/shipped/"
sm vok test "$T/shipped/tests"
expect_rc 0 vok "the shipped verify tests on a copy of verify.lua"
has "$T/vok.out" "3 passed, 0 failed" "all three pass"
sed -i 's/if p.strict then fail(/if false then fail(/' "$T/shipped/verify.lua"
cmp -s "$T/shipped/verify.lua" "$ROOT/runbooks/verify.lua" && die "the seeded bug was not applied to verify.lua"
sm vbug test "$T/shipped/tests"
expect_rc 1 vbug "the shipped verify tests on verify.lua with the seeded bug"
line=$(grep -n 't.eq(run.status, "failed", "the run")' "$T/shipped/tests/verify_test.lua" | head -1 | cut -d: -f1)
has "$T/vbug.out" "FAIL a high error rate fails verification ($T/shipped/tests/verify_test.lua:$line): the run: expected \"failed\", got \"succeeded\"" \
  "the case that catches it, at its assertion's file:line"
has "$T/vbug.out" "2 passed, 1 failed" "the closing line"

cat >"$P/tests/broken_test.lua" <<'LUA'
local t = require("summit.test")
t.case("calls nothing", function(ctx)
  local x = nil
  x.y()
end)
LUA
sm rterr test "$P/tests/broken_test.lua"
expect_rc 1 rterr "a case with a runtime error"
has "$T/rterr.out" "FAIL calls nothing ($P/tests/broken_test.lua:4)" "reported at its file:line"
printf 'local t = require("summit.test")\nt.case("x", function(ctx)\n' >"$P/tests/syntax_test.lua"
sm syn test "$P/tests/syntax_test.lua"
expect_rc 1 syn "a test file with a syntax error"
has "$T/syn.out" "FAIL $P/tests/syntax_test.lua:" "reported with its file:line"
has "$T/syn.out" "0 passed, 1 failed" "... and counted"

say "3. misuse"
sm badopt test --verbos "$P/tests"
expect_rc 2 badopt "a misspelt option"
has "$T/badopt.err" "unknown option --verbos" "named"
sm nopath test "$P/nope"
expect_rc 2 nopath "a missing path"
has "$T/nopath.err" "$P/nope" "named"
sm notests test "$P/runbooks"
expect_rc 2 notests "a directory without tests"
has "$T/notests.err" "no *_test.lua files" "said"
