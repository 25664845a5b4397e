-- summit.args (lua/summit/args.lua) on its own: the wording of argument
-- errors, the level they point at, guard, known-key lists, durations and
-- the schema. A plain LuaJIT script, not a runbook (runbooks cannot require
-- engine modules): `luajit tests/lua/unit/test_args.lua SOURCE_DIR`.
local root = arg[1] or "."
package.path = root .. "/lua/?.lua;" .. package.path

-- summit.c.task's duration_ms lives in the summit binary. This stand-in
-- raises as luaL_argerror does when called through pcall ("bad argument #1
-- to '?' (...)") for anything but a number of seconds or "<n>s"/"<n>m".
package.preload["summit.c.task"] = function()
  return {
    duration_ms = function(v)
      if type(v) == "number" then
        if not (v >= 0) or v == math.huge then
          error("bad argument #1 to '?' (duration must be a non-negative number)", 0)
        end
        return v * 1000
      end
      local n, unit = tostring(v):match("^(%d+)([sm])$")
      if type(v) ~= "string" or not n then
        error("bad argument #1 to '?' (invalid duration '" .. tostring(v) .. "')", 0)
      end
      return tonumber(n) * (unit == "m" and 60000 or 1000)
    end,
  }
end

local A = require("summit.args")

local failures = 0
local function check(cond, what)
  if not cond then
    failures = failures + 1
    io.stderr:write("FAIL: " .. what .. "\n")
  end
end

-- raises(fn, text): fn raises an error whose text contains `text` (plain).
local function raises(fn, text, what)
  local ok, e = pcall(fn)
  local msg = tostring(e)
  check(not ok and msg:find(text, 1, true) ~= nil,
    (what or text) .. ": expected an error with \"" .. text .. "\", got " .. (ok and "none" or msg))
  return msg
end

-- ---- message and raiser ----
check(A.message("step", "name", "a string expected") == "step: bad argument 'name' (a string expected)",
  "message names the function and the argument")
check(A.message("rollout.canary", 1, "a table expected") == "rollout.canary: bad argument #1 (a table expected)",
  "a numeric argument reads as #n")

local argerr = A.raiser("git.")
local function public(x) if x == nil then argerr("tag", "name", "a non-empty string expected") end end
local function caller() public(nil) end   -- this line is where the error must point
local msg = raises(caller, "git.tag: bad argument 'name' (a non-empty string expected)", "raiser")
check(msg:find("test_args.lua:" .. debug.getinfo(caller, "S").linedefined .. ":", 1, true) ~= nil,
  "raiser points at the caller of the public function: " .. msg)

local sited = A.raiser("metrics.", function() return "deploy.lua:12" end)
raises(function() sited("value", "promql", "a string") end,
  "deploy.lua:12: metrics.value: bad argument 'promql' (a string)", "raiser with a site")

-- ---- bad and guard ----
local function deep(v) if type(v) ~= "number" then A.bad("opts.count", "a number expected") end return v, "more" end
local function api(v)
  local x, y = A.guard("canary.analyze", 2, deep, v)   -- not a tail call: see guard
  return x, y
end
local a, b = api(3)
check(a == 3 and b == "more", "guard returns every result of the checker")
local function runbook_line() api("x") end
msg = raises(runbook_line, "canary.analyze: bad argument 'opts.count' (a number expected)", "guard")
check(msg:find("test_args.lua:" .. debug.getinfo(runbook_line, "S").linedefined .. ":", 1, true) ~= nil,
  "guard points at the caller of the public function: " .. msg)
local other = {}
local ok, e = pcall(A.guard, "f", 2, function() error(other, 0) end)
check(not ok and e == other, "guard passes other errors on unchanged")
ok, e = pcall(A.bad, "x", "y")
check(not ok and A.is_bad(e) and e.arg == "x" and e.msg == "y", "bad raises a marker is_bad knows")
check(not A.is_bad("x") and not A.is_bad({}), "is_bad is false for other values")

-- ---- known and unknown ----
check(A.known({ url = true, headers = 1, cluster = "x" }) == "cluster, headers, url", "known: sorted keys")
check(A.known({}) == "none", "known of nothing")
check(A.unknown({ b = 1, zz = 2, a = 3, y = 4 }, { a = true, b = true }) == "y", "unknown: the first, sorted")
check(A.unknown({ a = 1 }, { a = true }) == nil, "unknown: none")

-- ---- durations ----
check(A.ms("2m") == 120000 and A.ms(1.5) == 1500, "ms of valid durations")
local none, why = A.ms("soon")
check(none == nil and why == "invalid duration 'soon'", "ms says why without \"bad argument #1 to '?'\": "
  .. tostring(why))
msg = raises(function() A.duration("sleep", "d", "soon") end, "sleep: bad argument 'd' (invalid duration 'soon')")
check(not msg:find("?", 1, true), "duration names the function, not '?': " .. msg)
check(A.duration("sleep", "d", "3s") == 3000, "duration returns milliseconds")

-- ---- schema ----
local OPTS = A.schema{
  { "name", type = "string", nonempty = true, default = "canary" },
  { "count", type = "integer", min = 1, default = 1 },
  { "ratio", type = "number", above = 0, max = 1 },
  { "interval", type = "duration", default = "1m", to = "interval_ms" },
  { "mode", enum = { "fail", "ignore" }, default = "fail" },
  { "hook", type = "function" },
  { "limits", type = "table", fields = A.schema{ { "max", type = "integer", required = true } } },
  { "window", type = "duration", to = "window_ms", default = function(r) return r.interval_ms / 1000 end },
  { "tag", check = function(arg, v) if v == "bad" then A.bad(arg, "not 'bad'") end return v or "none" end },
}
local function analyze(t) return A.guard("canary.analyze", 2, OPTS, t, "opts.") end

local r = analyze({ count = 3, interval = "30s", limits = { max = 2 } })
check(r.name == "canary" and r.count == 3 and r.mode == "fail" and r.interval_ms == 30000
  and r.interval == nil and r.window_ms == 30000 and r.limits.max == 2 and r.tag == "none",
  "schema: defaults, renamed fields, nested fields, defaults from earlier fields")

raises(function() analyze({ count = "3" }) end,
  "canary.analyze: bad argument 'opts.count' (a whole number >= 1)", "wrong type")
raises(function() analyze({ count = 0 }) end, "bad argument 'opts.count' (a whole number >= 1)", "below min")
raises(function() analyze({ count = 1.5 }) end, "bad argument 'opts.count'", "not whole")
raises(function() analyze({ ratio = 0 }) end, "bad argument 'opts.ratio' (a number > 0 and <= 1)", "at an exclusive bound")
raises(function() analyze({ ratio = 1.5 }) end, "bad argument 'opts.ratio' (a number > 0 and <= 1)", "above max")
raises(function() analyze({ ratio = 0 / 0 }) end, "bad argument 'opts.ratio'", "NaN")
raises(function() analyze({ name = "" }) end, "bad argument 'opts.name' (a non-empty string expected)", "empty string")
raises(function() analyze({ name = 7 }) end, "bad argument 'opts.name' (a non-empty string expected)", "string type")
raises(function() analyze({ mode = "maybe" }) end, "bad argument 'opts.mode' (\"fail\" or \"ignore\")", "enum")
raises(function() analyze({ hook = "f" }) end, "bad argument 'opts.hook' (a function expected)", "function type")
raises(function() analyze({ interval = "soon" }) end,
  "bad argument 'opts.interval' (a duration like \"30s\", \"5m\" or a number of seconds expected, got 'soon')",
  "duration")
raises(function() analyze({ interval = {} }) end, "got table", "duration of a table")
raises(function() analyze({ limits = {} }) end, "bad argument 'opts.limits.max' (a whole number)", "required nested")
raises(function() analyze({ limits = 3 }) end, "bad argument 'opts.limits' (a table expected)", "table type")
raises(function() analyze({ tag = "bad" }) end, "bad argument 'opts.tag' (not 'bad')", "check function")
raises(function() analyze({ cuont = 3 }) end,
  "canary.analyze: bad argument 'opts.cuont' (unknown option (known: count, hook, interval, limits, mode, "
  .. "name, ratio, tag, window))", "unknown key with the known list")
raises(function() analyze({ limits = { max = 1, min = 0 } }) end,
  "bad argument 'opts.limits.min' (unknown option (known: max))", "unknown nested key")

local BARE = A.schema{ { "a", type = "boolean", msg = "yes or no" }, unknown = "unknown option" }
raises(function() A.guard("f", 2, BARE, { b = 1 }) end, "f: bad argument 'b' (unknown option)", "a schema's own unknown message")
raises(function() A.guard("f", 2, BARE, { a = 1 }) end, "f: bad argument 'a' (yes or no)", "a field's own message")

-- derived: a result computed from others, in result units, not converted
-- again (a duration's milliseconds are not read as seconds); nil falls
-- back to the default, and a given value is checked as ever.
local DER = A.schema{
  { "interval", type = "duration", to = "interval_ms", default = "1m" },
  { "window", type = "duration", to = "window_ms", default = "5m",
    derived = function(r) if r.interval_ms > 0 then return r.interval_ms end end },
}
local d = DER({ interval = "2m" })
check(d.window_ms == 120000, "derived: the interval's ms as they are, got " .. tostring(d.window_ms))
d = DER({ interval = 0 })
check(d.window_ms == 300000, "derived nil: the default, got " .. tostring(d.window_ms))
d = DER({ interval = "2m", window = "10m" })
check(d.window_ms == 600000, "a given value wins over derived, got " .. tostring(d.window_ms))
raises(function() A.guard("f", 2, DER, { window = "soon" }) end, "f: bad argument 'window'",
  "a given value is still checked")

if failures > 0 then
  io.stderr:write(failures .. " check(s) failed\n")
  os.exit(1)
end
print("test_args: all checks passed")
