#!/usr/bin/env bash
# Issue 13: a Lua error while a command starts exits 2 with its message
# (DESIGN §5: usage error or invalid runbook), never a panic.
#
#  1. A summit.lua that raises when it is loaded (a table nested too deep
#     to copy: "stack overflow" in the engine's copy of it): run, validate,
#     `runbooks` and `run NAME` exit 2, stderr names the error and where
#     it happened, no PANIC and no sanitizer report; nothing is recorded.
#     Repaired, the same state runs the runbook by file and by name.
#  2. A runbook whose param description raises when the missing param is
#     reported (its __concat): run exits 2 with the runbook's file:line;
#     no run is recorded; with the param given the same runbook runs.
#  3. A summit.lua that breaks between a run's suspension and its resume:
#     resume exits 2 and leaves the run suspended, its lease given back;
#     with summit.lua repaired the resume finishes the run.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

P=$T/proj
mkdir -p "$P/runbooks"
cat >"$P/good.lua" <<'EOF2'
return { environments = { staging = { namespace = "s" } } }
EOF2
cat >"$P/deep.lua" <<'EOF2'
-- A table nested deeper than the engine's copy of summit.lua can go.
local t = {}
for _ = 1, 300000 do t = { t } end
return { defaults = t }
EOF2
cat >"$P/runbooks/hello.lua" <<'EOF2'
-- Found by name (summit run hello) in the default runbooks directory.
return runbook {
  name = "hello", version = "1.0.0", description = "says hello",
  run = function()
    step("hi", function() return "hello" end)
  end,
}
EOF2
cat >"$P/odd_description.lua" <<'EOF2'
local odd = setmetatable({}, { __concat = function()
  error("description cannot be shown")
end })
return runbook {
  name = "odd", version = "1.0.0",
  params = { target = { type = "string", required = true, description = odd } },
  run = function(p) step("use", function() return p.target end) end,
}
EOF2
cat >"$P/nap.lua" <<'EOF2'
return runbook {
  name = "nap", version = "1.0.0",
  run = function()
    step("before", function() return 1 end)
    sleep("1s")
    step("after", function() return 2 end)
  end,
}
EOF2

# no_panic NAME WHAT: the last `sm NAME` ended by an error, not a panic.
no_panic() {
  hasnt "$T/$1.err" "PANIC" "$2: no panic"
  hasnt "$T/$1.err" "Sanitizer" "$2: no sanitizer report"
}

say "a summit.lua that raises while it loads"
cp "$P/deep.lua" "$P/summit.lua"
cd "$P"
sm cfg_run run runbooks/hello.lua
expect_rc 2 cfg_run "run with a summit.lua that raises"
has "$T/cfg_run.err" "summit: stack overflow" "run: stderr has the error"
has "$T/cfg_run.err" "summit/config.lua:" "run: stderr says where (the config's load)"
no_panic cfg_run "run"
sm cfg_validate validate runbooks/hello.lua
expect_rc 2 cfg_validate "validate with a summit.lua that raises"
has "$T/cfg_validate.err" "stack overflow" "validate: stderr has the error"
no_panic cfg_validate "validate"
sm cfg_catalog runbooks
expect_rc 2 cfg_catalog "summit runbooks with a summit.lua that raises"
has "$T/cfg_catalog.err" "stack overflow" "runbooks: stderr has the error"
no_panic cfg_catalog "runbooks"
sm cfg_name run hello
expect_rc 2 cfg_name "summit run NAME with a summit.lua that raises"
no_panic cfg_name "run NAME"
eq "$(run_count)" 0 "no run was recorded"

say "the same state with summit.lua repaired"
cp "$P/good.lua" "$P/summit.lua"
sm cfg_ok run runbooks/hello.lua
expect_rc 0 cfg_ok "run with summit.lua repaired"
eq "$(run_count)" 1 "one run, the repaired one"
sm cat_ok runbooks
expect_rc 0 cat_ok "summit runbooks with summit.lua repaired"
has "$T/cat_ok.out" "hello" "the catalog lists the runbook"
sm name_ok run hello
expect_rc 0 name_ok "summit run NAME with summit.lua repaired"
eq "$(run_count)" 2 "two runs now"

say "a runbook that raises while its params are resolved"
sm odd run "$P/odd_description.lua"
expect_rc 2 odd "run whose param description raises"
has "$T/odd.err" "odd_description.lua:2: description cannot be shown" \
  "stderr has the runbook's file:line and message"
no_panic odd "odd description"
eq "$(run_count)" 2 "no run was recorded for it"
sm odd_ok run "$P/odd_description.lua" -p target=a
expect_rc 0 odd_ok "the same runbook with the param given"

say "summit.lua breaks between suspension and resume"
sm nap run "$P/nap.lua" --config "$P/summit.lua" --detach
expect_rc 3 nap "the run suspends in its sleep"
id=$(newest_run)
cp "$P/deep.lua" "$P/summit.lua"
sm nap_bad resume "$id"
expect_rc 2 nap_bad "resume with a summit.lua that raises"
has "$T/nap_bad.err" "stack overflow" "resume: stderr has the error"
no_panic nap_bad "resume"
eq "$(run_status "$id")" suspended "the run is still suspended"
cp "$P/good.lua" "$P/summit.lua"
sm nap_ok resume "$id"
expect_rc 0 nap_ok "resume with summit.lua repaired (the lease was given back)"
eq "$(run_status "$id")" succeeded "the run finished"
