#!/usr/bin/env bash
# Issue 7 / summit.checks against a real local HTTP server
# (tests/integration/http_server.py) and real commands.
#
#  1. checks.http: /ok with json_path/equals passes at once; /flaky (500,
#     500, 200) passes on attempt 3 with retries; a status that never
#     comes fails with ECHECK after retries + 1 attempts naming the check.
#  2. checks.command and checks.command_from_config("smoke") run the argv
#     configured in summit.lua; an unknown name raises at once listing the
#     configured ones; misuse names the argument and the runbook's line.
#  3. checks.suite runs every check, reports each, and fails listing the
#     failed ones (ECHECK with results); uncaught, the run fails (exit 1)
#     with that message.
#  4. A resumed run replays passed checks: the server is not asked again.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

command -v python3 >/dev/null || die "python3 is needed for the test HTTP server (make deps)"
command -v curl >/dev/null || die "curl is needed to read the test server's counters (make deps)"

start_http_server
hits() { curl -fsS "$URL/stats" | py 'import json,sys; print(json.load(sys.stdin)["hits"].get(sys.argv[1], 0))' "$1"; }

cd "$T/wd"
cat >summit.lua <<'CFG'
return {
  commands = {
    smoke = { "sh", "-c", "echo smoke-ok; echo \"$@\" >> smoke.args", "smoke" },
    broken = { "sh", "-c", "echo 'db unreachable' >&2; exit 3" },
  },
}
CFG

say "1-3. http, command, command_from_config and suite"
cat >checks_ok.lua <<'RB'
local checks = require("summit.checks")
return runbook {
  name = "checks-ok", version = "1.0.0",
  params = { url = { type = "string", required = true } },
  run = function(p)
    local r = checks.http{ url = p.url .. "/ok", json_path = "ok", equals = true, name = "ok" }
    assert(r.ok and r.status == 200 and r.attempts == 1 and r.value == true, json.encode(r))
    r = checks.http{ url = p.url .. "/flaky?id=a", retries = 3, interval = "100ms" }
    assert(r.attempts == 3, "flaky passed on attempt " .. tostring(r.attempts))
    local ok, e = pcall(checks.http, { url = p.url .. "/ok", expect_status = 204, retries = 1,
                                       interval = "50ms", name = "wants-204" })
    assert(not ok and e.code == "ECHECK" and e.check == "wants-204" and e.attempts == 2, tostring(e))
    assert(e.message:find("answered 200, expected 204", 1, true), e.message)
    ok, e = pcall(checks.http, { url = p.url .. "/ok", contains = "nope", retries = 0 })
    assert(not ok and e.message:find("does not contain 'nope'", 1, true), tostring(e))
    r = checks.command{ argv = { "sh", "-c", "echo ready" }, contains = "ready" }
    assert(r.ok and r.code == 0 and r.stdout == "ready\n")
    r = checks.command_from_config("smoke", { args = { "--fast" } })
    assert(r.ok and r.name == "smoke" and r.stdout:find("smoke-ok", 1, true))
    ok, e = pcall(checks.command_from_config, "broken")
    assert(not ok and e.code == "ECHECK" and e.message:find("exited 3, expected 0: db unreachable", 1, true),
      tostring(e))
    ok, e = pcall(checks.command_from_config, "missing")
    assert(not ok and tostring(e):find("commands.missing is not configured", 1, true)
      and tostring(e):find("broken, smoke", 1, true), tostring(e))
    ok, e = pcall(function() local x = checks.http{ url = "ftp://x" }; return x end)
    assert(not ok and tostring(e):find("checks_ok.lua:%d+: checks.http: bad argument 'url'"), tostring(e))
    ok, e = pcall(checks.command, { argv = { "ls", 3 } })
    assert(not ok and tostring(e):find("bad argument 'argv[2]'", 1, true), tostring(e))
    ok, e = pcall(checks.suite, "s", { { "a", function() end }, { "a", function() end } })
    assert(not ok and tostring(e):find("'a' appears twice", 1, true), tostring(e))
    ok, e = pcall(checks.suite, "smoke", {
      { "health", { url = p.url .. "/ok", retries = 0 } },
      { "auth", { url = p.url .. "/ok", expect_status = 401, retries = 0 } },
      { "database", { command = "broken" } },
      { "graph", function() return "fine" end },
    })
    assert(not ok and e.code == "ECHECK", tostring(e))
    assert(e.message == "suite 'smoke': 2 of 4 checks failed: auth, database", e.message)
    assert(#e.results == 4 and e.results[1].ok and not e.results[2].ok and e.results[4].result == "fine")
    r = checks.suite("quick", { { "health", { url = p.url .. "/ok" } }, { name = "ls", argv = { "true" } } })
    assert(r.ok and #r.results == 2)
  end,
}
RB
sm ok run checks_ok.lua -p url="$URL"
expect_rc 0 ok "the checks behave as documented"
eq "$(cat smoke.args)" "--fast" "command_from_config appended args to the configured argv"
eq "$(hits /flaky)" "3" "the flaky endpoint was asked 3 times"
has "$T/ok.out" "ok smoke" "the configured command is a step named after it"
has "$T/ok.out" "auth FAILED" "the suite reports the failed check"
id=$(newest_run)
"$SUMMIT" log "$id" --json >"$T/log.json"
has "$T/log.json" '"name":"suite smoke"' "the suite is a journaled step"
has "$T/log.json" '"name":"health"' "each suite item is a journaled step"

say "3. an uncaught suite failure fails the run"
cat >suite_fail.lua <<'RB'
local checks = require("summit.checks")
return runbook {
  name = "suite-fail", version = "1.0.0",
  params = { url = { type = "string", required = true } },
  run = function(p)
    checks.suite("smoke", {
      { "health", { url = p.url .. "/ok" } },
      { "database", { command = "broken" } },
    })
  end,
}
RB
sm sf run suite_fail.lua -p url="$URL"
expect_rc 1 sf "a failed suite fails the run"
has "$T/sf.out" "suite 'smoke': 1 of 2 checks failed: database" "the error names the failed check"

say "4. resume replays passed checks"
cat >resume.lua <<'RB'
local checks = require("summit.checks")
return runbook {
  name = "checks-resume", version = "1.0.0",
  params = { url = { type = "string", required = true } },
  run = function(p)
    checks.http{ url = p.url .. "/count", name = "counted" }
    checks.command{ argv = { "test", "-e", "marker" }, name = "marker" }
  end,
}
RB
before=$(hits /count)
sm r1 run resume.lua -p url="$URL"
expect_rc 1 r1 "the command check fails without the marker"
has "$T/r1.out" "check 'marker' did not pass after 1 attempt: test exited 1" "the failure names the check"
eq "$(hits /count)" "$((before + 1))" "the http check asked once"
touch marker
id=$(newest_run)
sm r2 resume "$id"
expect_rc 0 r2 "the resumed run passes"
eq "$(hits /count)" "$((before + 1))" "the passed http check was replayed, not asked again"
