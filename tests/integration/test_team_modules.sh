#!/usr/bin/env bash
# Issue 14 item 3: team modules. summit.lua's `modules = { "lib", ... }`
# makes require("team.x") in a runbook load lib/team/x.lua, in the
# runbook's sandbox (docs/authoring.md "Team modules").
#  1. require works: first match in list order, the module's code runs
#     once per run (cached, the same table everywhere), it may use the
#     runbook globals (log, step) and require other team modules;
#  2. in the sandbox: io and os.execute are refused inside the module too;
#  3. a missing module lists every path tried, in order;
#  4. a syntax error and a raise at the module's top level name file:line
#     (and the runbook line that required it);
#  5. summit.* cannot be shadowed: lib/summit/json.lua is never loaded for
#     require("summit.json"), and require("summit.mine") is refused even
#     with lib/summit/mine.lua there;
#  6. two modules requiring each other: lazily it works; at both top
#     levels it is an error naming the cycle, not a stack overflow;
#  7. an endless loop at a module's top level spends the runbook's load
#     budget; a name with .. or / is not a module name;
#  8. summit.lua's modules key is checked (file:line).
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

W=$T/wd
cd "$W"
mkdir -p lib/team lib/summit vendor/team
cat >summit.lua <<'EOF'
return {
  modules = { "lib", "vendor" },
}
EOF

# top NAME MODULE: writes NAME.lua, a runbook that requires MODULE at its
# top level (its load fails when the module's does).
top() {
  printf 'local m = require("%s")\nreturn runbook { name = "%s", run = function() return m end }\n' \
    "$2" "$1" >"$1.lua"
}

# 1. A module that counts its loads in a file only the test reads back:
# the sandbox has no io, so the count goes through log lines.
cat >lib/team/checks.lua <<'EOF'
local M = {}
log.info("loaded team.checks")
local calls = 0
function M.greet(who)
  calls = calls + 1
  return step("greet " .. who, function() return "hello " .. who .. " #" .. calls end)
end
return M
EOF
cat >lib/team/user.lua <<'EOF'
local checks = require("team.checks")
return { checks = checks }
EOF
cat >lib/team/shared.lua <<'EOF'
return { from = "lib" }
EOF
cat >vendor/team/shared.lua <<'EOF'
return { from = "vendor" }
EOF
cat >vendor/team/only.lua <<'EOF'
return { from = "vendor-only" }
EOF
cat >uses.lua <<'EOF'
local checks = require("team.checks")
local user = require("team.user")
return runbook { name = "uses", run = function()
  log.info("greeting: %s", checks.greet("ops"))
  log.info("greeting: %s", require("team.checks").greet("dev"))
  log.info("same table: %s", tostring(user.checks == checks))
  log.info("shared from %s, only from %s", require("team.shared").from, require("team.only").from)
end }
EOF
say "1. require loads lib/team/checks.lua once per run, first match in list order"
sm uses run uses.lua
expect_rc 0 uses "a runbook requiring team modules"
has "$T/uses.out" "greeting: hello ops #1" "the module's function runs (with step)"
has "$T/uses.out" "greeting: hello dev #2" "a second require gets the same module (its state kept)"
has "$T/uses.out" "same table: true" "a module requiring another gets the cached one"
eq "$(grep -c "loaded team.checks" "$T/uses.out")" 1 "the module's top level ran once in the run"
has "$T/uses.out" "shared from lib, only from vendor-only" "lib/ before vendor/, vendor/ when lib/ has none"

say "2. the module runs in the sandbox: io and os.execute are refused there too"
cat >lib/team/escape.lua <<'EOF'
local M = {}
function M.io() return io.open("/etc/passwd") end
function M.execute() return os.execute("true") end
function M.global() leaked = 1 end
return M
EOF
cat >escape.lua <<'EOF'
local e = require("team.escape")
return runbook { name = "escape", run = function()
  for _, f in ipairs({ "io", "execute", "global" }) do
    local ok, err = pcall(e[f])
    log.info("%s: %s %s", f, ok and "ran" or "refused", tostring(err))
  end
end }
EOF
sm escape run escape.lua
expect_rc 0 escape "the escapes are caught by the runbook"
has "$T/escape.out" "io: refused $W/lib/team/escape.lua:2: unknown global 'io'" "io refused, at the module's line"
has "$T/escape.out" "execute: refused $W/lib/team/escape.lua:3:" "os.execute refused, at the module's line"
has "$T/escape.out" "attempt to call field 'execute'" "os.execute is not there"
has "$T/escape.out" "global: refused $W/lib/team/escape.lua:4: assignment to undeclared global 'leaked'" \
  "a module cannot create globals either"

say "3. a missing module lists every path tried"
top missing team.nope
sm missing run missing.lua
expect_rc 2 missing "a runbook requiring a missing module does not start"
has "$T/missing.err" "missing.lua:1: require 'team.nope': module 'team.nope' not found:" "the runbook line and the name"
has "$T/missing.err" "no file '$W/lib/team/nope.lua'" "lib/ tried"
has "$T/missing.err" "no file '$W/vendor/team/nope.lua'" "vendor/ tried"
eq "$(grep -n "no file" "$T/missing.err" | head -1 | grep -c "/lib/")" 1 "in list order"

say "4. a syntax error and a raise name the module's file:line"
printf 'local M = {}\n\nfunction M.f(\n  return 1\nend\nreturn M\n' >lib/team/broken.lua
printf 'local M = {}\nerror("team.raises is misconfigured")\nreturn M\n' >lib/team/raises.lua
top broken team.broken
top raises team.raises
sm broken run broken.lua
expect_rc 2 broken "a syntax error in a module stops the load"
has "$T/broken.err" "broken.lua:1: require 'team.broken': $W/lib/team/broken.lua:4:" "file:line of the syntax error"
sm raises run raises.lua
expect_rc 2 raises "a raise at a module's top level stops the load"
has "$T/raises.err" "raises.lua:1: require 'team.raises': $W/lib/team/raises.lua:2: team.raises is misconfigured" \
  "file:line of the raise"
cat >late.lua <<'EOF'
return runbook { name = "late", run = function()
  step("needs raises", function() local m = require("team.raises"); return m end)
end }
EOF
sm late run late.lua
expect_rc 1 late "a raise of a module required in a step fails the run"
has "$T/late.out" "late.lua:2: require 'team.raises': $W/lib/team/raises.lua:2: team.raises is misconfigured" \
  "file:line in the step's error too"

say "5. summit.* is the stdlib's: a team module cannot shadow it"
cat >lib/summit/json.lua <<'EOF'
return { shadow = true, encode = function() return "shadowed" end }
EOF
cat >lib/summit/mine.lua <<'EOF'
return { mine = true }
EOF
cat >shadow.lua <<'EOF'
local j = require("summit.json")
return runbook { name = "shadow", run = function()
  log.info("json: %s shadow=%s", j.encode({ 1 }), tostring(j.shadow))
  local ok, err = pcall(require, "summit.mine")
  log.info("summit.mine: %s %s", ok and "loaded" or "refused", tostring(err))
end }
EOF
sm shadow run shadow.lua
expect_rc 0 shadow "a runbook with lib/summit/ in its modules directory"
has "$T/shadow.out" "json: [1] shadow=nil" "require(\"summit.json\") is the stdlib's"
has "$T/shadow.out" "summit.mine: refused" "require(\"summit.mine\") does not load lib/summit/mine.lua"
has "$T/shadow.out" "summit and summit.* name the stdlib only" "and says why"
hasnt "$T/shadow.out" "mine=true" "the file was not run"

say "6. two modules requiring each other"
cat >lib/team/ping.lua <<'EOF'
local pong = require("team.pong")
local M = {}
function M.ping(n) if n == 0 then return "done" end return pong.pong(n - 1) end
return M
EOF
cat >lib/team/pong.lua <<'EOF'
local M = {}
function M.pong(n) return require("team.ping").ping(n) end
return M
EOF
cat >mutual.lua <<'EOF'
local ping = require("team.ping")
return runbook { name = "mutual", run = function() log.info("ping: %s", ping.ping(5)) end }
EOF
sm mutual run mutual.lua
expect_rc 0 mutual "ping requires pong at its top, pong requires ping in a function"
has "$T/mutual.out" "ping: done" "the mutual calls ran"
printf 'return { b = require("team.cyc_b") }\n' >lib/team/cyc_a.lua
printf 'return { a = require("team.cyc_a") }\n' >lib/team/cyc_b.lua
top cycle team.cyc_a
sm cycle run cycle.lua
expect_rc 2 cycle "a cycle at the top levels does not start"
has "$T/cycle.err" "require cycle: team.cyc_a -> team.cyc_b -> team.cyc_a" "the cycle is named"
has "$T/cycle.err" "$W/lib/team/cyc_b.lua:1:" "at the line that closes it"

say "7. the load budget covers a module's top level; names cannot leave the directories"
printf 'local n = 0\nwhile true do n = n + 1 end\n' >lib/team/spin.lua
top spin team.spin
SUMMIT_LOAD_TIMEOUT=300ms sm spin run spin.lua
expect_rc 2 spin "an endless module top level is stopped"
has "$T/spin.err" "$W/lib/team/spin.lua:2: still running after 300 ms" "at the module's loop"
# A modules directory named like the engine's sources (lua/summit/) does
# not make a module pass for engine code, which the watchdog spares.
mkdir -p "$T/eng/lua/summit/team" && cp lib/team/spin.lua "$T/eng/lua/summit/team/"
cp spin.lua "$T/eng/" && printf 'return { modules = { "lua/summit" } }\n' >"$T/eng/summit.lua"
cd "$T/eng"
SM_TIMEOUT=20 SUMMIT_LOAD_TIMEOUT=300ms sm spin2 run spin.lua --config summit.lua
cd "$W"
expect_rc 2 spin2 "a module under lua/summit/ is stopped too"
has "$T/spin2.err" "./lua/summit/team/spin.lua:2: still running after 300 ms" "at its loop"
cat >dots.lua <<'EOF'
return runbook { name = "dots", run = function()
  for _, n in ipairs({ "team..x", "../summit", "team/checks" }) do
    local ok, err = pcall(require, n)
    log.info("%s: %s", ok and "loaded" or "refused", tostring(err))
  end
end }
EOF
sm dots run dots.lua
expect_rc 0 dots "bad names are errors the runbook can catch"
has "$T/dots.out" "'team..x' is not a module name" "an empty part"
has "$T/dots.out" "'../summit' is not a module name" "a parent directory"
has "$T/dots.out" "'team/checks' is not a module name" "a slash"

say "8. summit.lua's modules key is checked"
mkdir -p "$T/cfg" && cd "$T/cfg"
cp "$W/uses.lua" .
printf 'return {\n  environments = {},\n  modules = "lib",\n}\n' >summit.lua
sm cfg1 run uses.lua
expect_rc 2 cfg1 "modules as a string"
has "$T/cfg1.err" "summit.lua:3: summit.lua.modules must be a table, not a string" "names file:line"
printf 'return {\n  environments = {},\n  modules = { "lib",\n    false },\n}\n' >summit.lua
sm cfg2 run uses.lua
expect_rc 2 cfg2 "a directory that is not a string"
has "$T/cfg2.err" "summit.lua:3: modules[2] must be a directory (a non-empty string), not a boolean" \
  "names the entry"
printf 'return {\n  modules = { lib = "lib" },\n}\n' >summit.lua
sm cfg3 run uses.lua
expect_rc 2 cfg3 "a map instead of a list"
has "$T/cfg3.err" "summit.lua:2: modules must be a list of directories" "says a list is expected"
printf 'return {}\n' >summit.lua
sm cfg4 run uses.lua
expect_rc 2 cfg4 "no modules key"
has "$T/cfg4.err" "summit.lua has no modules directories" "says where modules come from"
