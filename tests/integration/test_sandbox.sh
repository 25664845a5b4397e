#!/usr/bin/env bash
# Issue 12 item 5: sandboxed code (a runbook, summit.lua) cannot reach a
# table the engine uses.
#
# Each case is a run whose runbook (or summit.lua) first tries one escape,
# then sends a token as Authorization and X-Api-Key to a real HTTP server
# (tests/integration/http_server.py); the token comes from summit.lua
# (env.vars, read from $API_TOKEN), never from a param. The server must receive the token;
# `summit log RUN --json`, `summit status` and state.db must not hold it.
#  1. getmetatable("").__index.lower/find replaced (the engine's `string`)
#  2. the string metatable's __index swapped for a patched table
#  3. rawset into getmetatable("").__index
#  4. the runbook's `string` global patched (its own copy)
#  5. rawset into a module from require (summit.json) and into `json`,
#     `http`, `log`: the journal still records real results
#  6. setmetatable on "" and on summit objects, string.dump, setfenv,
#     getfenv, debug, load/loadstring, coroutine, package: absent or refused
#  7. an error value's e.__index (the engine's error metatable) patched
#  8. summit.lua patching string.lower/find at load time
#  9. a runbook that rewrites env.approval: its gate keeps summit.lua's policy
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

command -v python3 >/dev/null || die "python3 is needed for the test HTTP server (make deps)"

start_http_server

W=$T/wd
cd "$W"
cat >summit.lua <<'EOF'
return { environments = { test = { approval = { count = 2, allow_self = false },
                                   vars = { token = os.getenv("API_TOKEN") } } } }
EOF

# rb NAME ESCAPE: writes $W/NAME.lua, a runbook that runs ESCAPE (Lua, in
# a pcall whose outcome it logs) and then calls /echo-auth with the token.
rb() {
  cat >"$W/$1.lua" <<EOF
return runbook {
  name = "escape-$1",
  params = { url = { type = "string", required = true } },
  run = function(p)
    local ok, err = pcall(function()
$2
    end)
    log.warn("escape $1: %s", ok and "ran" or ("refused: " .. tostring(err)))
    local r = step("auth call", function()
      return http.get(p.url .. "/echo-auth", { headers = {
        Authorization = "Bearer " .. env.vars.token, ["X-Api-Key"] = env.vars.token } })
    end)
    log.warn("probe status=%d upper=%s", r.status, ("abc"):upper())
  end,
}
EOF
}

# check NAME [RUN-ARGS...]: runs $W/NAME.lua with a fresh token and asserts
# the server got it and nothing summit keeps or shows holds it.
check() {
  local name=$1
  shift
  local tok="tok-$name-$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')"
  API_TOKEN=$tok sm "$name" run "$W/$name.lua" --env test -p url="$URL" "$@"
  expect_rc 0 "$name" "$name: the run"
  local run
  run=$(newest_run)
  curl -fsS "$URL/stats" | grep -qF -- "$tok" || die "$name: the server never received the token"
  "$SUMMIT" log "$run" --json >"$T/$name-log.jsonl"
  "$SUMMIT" status "$run" --json >"$T/$name-status.json"
  hasnt "$T/$name-log.jsonl" "$tok" "$name: the journal (log --json) masks the token"
  hasnt "$T/$name-status.json" "$tok" "$name: status masks the token"
  has "$T/$name.out" "upper=ABC" "$name: the engine's string library still works"
  local f
  for f in "$SUMMIT_STATE_DIR"/state.db*; do
    if grep -aqF -- "$tok" "$f"; then die "$name: $(basename "$f") holds the token"; fi
  done
  ok "$name: state.db holds no token"
  grep -aqF "[redacted]" "$SUMMIT_STATE_DIR"/state.db* || die "$name: the stored request shows no masked header"
  ok "$name: the stored request shows the headers masked"
}

say "1. getmetatable(\"\").__index.lower/find replaced"
rb mt_lower '
      local s = getmetatable("").__index
      s.lower = function(x) return x end
      s.find = function() return nil end'
check mt_lower
has "$T/mt_lower.out" "escape mt_lower: refused" "mt_lower: the runbook could not reach the string metatable"

say "2. the string metatable's __index swapped"
rb mt_index '
      local mt = getmetatable("")
      local real = mt.__index
      mt.__index = setmetatable({ lower = function(x) return x end,
                                  find = function() return nil end }, { __index = real })'
check mt_index

say "3. rawset into getmetatable(\"\").__index"
rb mt_rawset '
      rawset(getmetatable("").__index, "lower", function(x) return x end)
      rawset(getmetatable("").__index, "find", function() return nil end)'
check mt_rawset

say "4. the runbook's own string global patched"
rb string_global '
      string.lower = function(x) return x end
      string.find = function() return nil end
      string.upper = function() return "patched" end'
check string_global

say "5. modules and API tables patched with rawset"
rb modules '
      rawset(require("summit.json"), "encode", function() return "\"pwned\"" end)
      rawset(json, "encode", function() return "\"pwned\"" end)
      rawset(json, "decode", function() return "pwned" end)
      rawset(http, "request", function() error("pwned") end)
      rawset(log, "info", function() end)'
check modules
has "$T/modules.out" "probe status=200" "modules: the step result is the real response"
hasnt "$T/modules-log.jsonl" "pwned" "modules: the journal never saw the patched encoder"
has "$T/modules.out" "escape modules: ran" "modules: the runbook patched its own copies"

say "6. setmetatable on shared values; debug, setfenv, load and friends absent"
rb absent '
      local seen = {}
      for _, k in ipairs({ "debug", "setfenv", "getfenv", "load", "loadstring", "dofile",
                           "loadfile", "coroutine", "package", "module", "newproxy",
                           "collectgarbage", "gcinfo" }) do
        if rawget(_G, k) ~= nil then seen[#seen + 1] = k end
      end
      if string.dump then seen[#seen + 1] = "string.dump" end
      if getmetatable("") ~= nil then seen[#seen + 1] = "getmetatable(\"\")" end
      local e = select(2, pcall(fail, "x"))
      if getmetatable(e) ~= nil then seen[#seen + 1] = "getmetatable(error)" end
      if e.__index ~= nil then seen[#seen + 1] = "error.__index" end
      if pcall(setmetatable, e, {}) then seen[#seen + 1] = "setmetatable(error)" end
      if pcall(setmetatable, git, {}) then seen[#seen + 1] = "setmetatable(git)" end
      local mine = setmetatable({}, { __index = { x = 1 } })
      if getmetatable(mine).__index.x ~= 1 then seen[#seen + 1] = "own metatable hidden" end
      assert(not pcall(setmetatable, "", {}), "setmetatable(\"\") worked")
      if #seen > 0 then error("reachable: " .. table.concat(seen, ", ")) end'
check absent
has "$T/absent.out" "escape absent: ran" "absent: none of them is reachable, own metatables work"

say "7. the engine's error metatable through e.__index"
rb errmt '
      local _, e = pcall(fail, "x")
      local mt = e.__index
      mt.__tostring = function() return "pwned" end'
check errmt
API_TOKEN=v sm errmt_fail run "$W/errmt.lua" --env test -p url=http://127.0.0.1:1
expect_rc 1 errmt_fail "errmt: a run that then fails"
"$SUMMIT" status "$(newest_run)" >"$T/errmt-status.txt"
hasnt "$T/errmt-status.txt" "pwned" "errmt: the engine's errors still print as themselves"

say "8. summit.lua patching string.lower/find"
mkdir -p cfg
cat >cfg/summit.lua <<'EOF'
string.lower = function(x) return x end
string.find = function() return nil end
return { environments = { test = { vars = { token = os.getenv("API_TOKEN") } } } }
EOF
rb cfgpatch 'return'
cp cfgpatch.lua cfg/cfgpatch.lua
cd cfg
check cfgpatch
cd "$W"

say "9. a runbook rewriting env.approval does not relax summit.lua's gate"
cat >policy.lua <<'EOF'
return runbook {
  name = "policy",
  run = function()
    env.approval.count = 1
    env.approval.allow_self = true
    approval.require{ gate = "test" }
  end,
}
EOF
sm policy run policy.lua --env test --detach
expect_rc 3 policy "policy: the run waits on its gate"
eq "$("$SUMMIT" status "$(newest_run)" --json | py 'import json,sys
print(json.load(sys.stdin)["waits"][0]["need"])')" 2 "policy: the gate still needs summit.lua's 2 approvals"
