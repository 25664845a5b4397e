-- summit.misspelt (lua/summit/misspelt.lua) on its own: the unknown-key
-- message, where a chunk sets a key (read off its bytecode) and the
-- static check of literal step{} tables. A plain LuaJIT script:
-- `luajit tests/lua/unit/test_misspelt.lua SOURCE_DIR`.
local root = arg[1] or "."
package.path = root .. "/lua/?.lua;" .. package.path
package.preload["summit.c.task"] = function() return {} end   -- summit.args' durations

local K = require("summit.misspelt")

-- The first failed check stops the script with its message (exit 1).
local check = assert
local function eq(got, want, what)
  check(got == want, what .. ": expected " .. tostring(want) .. ", got " .. tostring(got))
end

-- ---- unknown and message ----
eq(K.unknown({ name = "x", enviroment = "prod", run = 1 }, K.RUNBOOK), "enviroment", "a misspelt runbook{} key")
eq(K.unknown({ name = "x", environment = "prod" }, K.RUNBOOK), nil, "known keys only")
eq(K.unknown({ "a", function() end, retries = 1 }, K.STEP, true), nil, "step{}'s [1] and [2]")
eq(K.unknown({ "a", function() end, 3 }, K.STEP, true), 3, "a third positional value")
eq(K.unknown({ "a" }, K.STEP), 1, "[1] is not known without positional")
eq(K.message("step", "retires", K.STEP),
  "step: bad argument 'retires' (unknown option (known: backoff, fn, idempotent, name, "
    .. "on_exhausted, retries, secret_output, timeout, undo))", "the message lists the known keys")

-- ---- site: the line that sets a key ----
local chunk = assert(loadstring([[
return runbook{
  name = "x",
  enviroment = "prod",
  params = {
    port = { tpye = "integer" },
  },
  run = function()
    local t = {}
    t.other = 1
  end,
  hook = function() end,
}]], "@rb.lua"))
eq(K.site(chunk, "enviroment"), "rb.lua:1", "a constant value: the line of its table")
eq(K.site(chunk, "tpye"), "rb.lua:5", "a nested table's key")
eq(K.site(chunk, "hook"), "rb.lua:11", "a non-constant value: its own line")
eq(K.site(chunk, "other"), "rb.lua:9", "a key set inside a nested function")
eq(K.site(chunk, "absent"), nil, "a key no table sets")

-- ---- steps: literal step{} tables ----
local steps = assert(loadstring([[
return runbook{ name = "s", run = function()
  step("plain", function() end)
  local x = step{ "a", function() return 1 end,
    retries = 3, backoff = { initial = "1s", bogus = 1 } }
  step{ name = "b", fn = function() end, idempotnet = x() }
  local opts = { timout = "5s" }
  step(opts)
  return step{ "c", function()
    step{ "nested", function() end, undo = function() end, on_exhaust = "pause" }
  end, timout = "5s" }
end }]], "@steps.lua"))
local problems = K.steps(steps)
local text = table.concat(problems, "\n")
eq(#problems, 3, "three misspelt step options: " .. text)
check(text:find("steps.lua:5: step: bad argument 'idempotnet' (unknown option (known: ", 1, true),
  "a key with a computed value, at its line: " .. text)
check(text:find("steps.lua:9: step: bad argument 'on_exhaust'", 1, true), "a step in a step's body: " .. text)
check(text:find("steps.lua:8: step: bad argument 'timout'", 1, true), "a tail-called step{}: " .. text)
check(not text:find("bogus", 1, true), "a nested option table is not step{}'s: " .. text)
check(not text:find("steps.lua:6", 1, true), "a table that is not a step{} literal is not checked: " .. text)
eq(#K.steps(assert(loadstring("step{ 'a', function() end, retries = 1, timeout = '1s' }"))), 0,
  "known options only")

print("test_misspelt: all checks passed")
