-- Argument checking for the runbook API and the stdlib: one wording for
-- every misuse ("fname: bad argument 'arg' (what was expected)"), raised
-- at the runbook's line, and a declarative schema for option tables.
--
-- Modules name it `local argcheck = require("summit.args")` (`args` is
-- too common a local name). Two ways to raise, for two shapes of code:
--   * at once: argcheck.raiser("git.") gives a module its argerr(fname,
--     arg, msg [, level]); the error points `level` frames up (3 by
--     default: argerr, the public function, the runbook);
--   * from deep inside a checker: argcheck.bad(arg, msg) raises a marker
--     that argcheck.guard(fname, level, fn, ...) turns into the message at
--     the runbook's line, however many helpers the check went through.
local util = require("summit.util")

local M = {}

-- message(fname, arg, msg) -> "fname: bad argument 'arg' (msg)"; a numeric
-- arg reads as Lua's own "bad argument #1 (msg)".
function M.message(fname, arg, msg)
  if type(arg) == "number" then
    return string.format("%s: bad argument #%d (%s)", fname, arg, msg)
  end
  return string.format("%s: bad argument '%s' (%s)", fname, tostring(arg), msg)
end

-- raiser(prefix [, site]) -> argerr(fname, arg, msg [, level]) raising
-- message(prefix .. fname, ...) at `level` (counted as error() counts, from
-- argerr itself: 3 is the caller of the function that called argerr).
-- With site, a function returning "file:line" of the runbook, the message
-- starts with it instead (for calls that reach the runbook through frames
-- no level can count, such as a client's methods).
function M.raiser(prefix, site)
  if site then
    return function(fname, arg, msg)
      error(site() .. ": " .. M.message(prefix .. fname, arg, msg), 0)
    end
  end
  return function(fname, arg, msg, level)
    error(M.message(prefix .. fname, arg, msg), level or 3)
  end
end

-- ---- deferred: raised inside a checker, reported by guard ----

local Bad = {}   -- metatable of the marker

-- bad(arg, msg): a misuse found while checking; guard names the function.
function M.bad(arg, msg)
  error(setmetatable({ arg = arg, msg = msg }, Bad), 0)
end

-- is_bad(e) -> whether e was raised by bad().
function M.is_bad(e) return getmetatable(e) == Bad end

-- guard(fname, level, fn, ...) -> fn's results. A bad() inside fn raises
-- message(fname, arg, msg) at `level`, counted from guard's caller (1 is
-- that function, 2 its caller); any other error goes on unchanged. Call it
-- as `local r = guard(...)`, not `return guard(...)`: LuaJIT drops the
-- frame of a tail call, and the level would count one frame too far.
function M.guard(fname, level, fn, ...)
  local r = util.pack(pcall(fn, ...))
  if r[1] then return unpack(r, 2, r.n) end
  if getmetatable(r[2]) == Bad then
    error(M.message(fname, r[2].arg, r[2].msg), level + 1)
  end
  error(r[2], 0)
end

-- ---- values several modules take ----

-- percent(arg, p) -> p, a number from 0 to 100, or bad(arg, ...).
function M.percent(arg, p)
  if type(p) ~= "number" or p ~= p or p < 0 or p > 100 then
    M.bad(arg, "a percentage from 0 to 100 expected, got " .. tostring(p))
  end
  return p
end

-- client(arg, k) -> k: nil or a client from cluster(), or bad(arg, ...).
function M.client(arg, k)
  if k ~= nil and (type(k) ~= "table" or type(k.get) ~= "function") then
    M.bad(arg, "a client from cluster() expected")
  end
  return k
end

-- ---- "known: ..." lists ----

-- known(set) -> "a, b, c": its sorted keys, or "none" when empty.
function M.known(set)
  if next(set) == nil then return "none" end
  return util.key_list(set)
end

-- unknown(t, allowed) -> the first key of t (sorted) not in allowed, or nil.
function M.unknown(t, allowed)
  for _, k in ipairs(util.sorted_keys(t)) do
    if allowed[k] == nil then return k end
  end
  return nil
end

-- ---- durations ----

-- ms(v) -> milliseconds of a duration (a number of seconds or "1m30s"),
-- or nil and why ("invalid duration ..."): summit.c.task's own message
-- without its "bad argument #1 to '?'", which names no function.
function M.ms(v)
  local ok, r = pcall(require("summit.c.task").duration_ms, v)
  if ok then return r end
  return nil, (tostring(r):gsub("^bad argument #1 to '%?' %((.*)%)$", "%1"))
end

-- duration(fname, arg, v [, level]) -> milliseconds, or raises
-- "fname: bad argument 'arg' (invalid duration ...)" at level (3 by default,
-- as argerr's).
function M.duration(fname, arg, v, level)
  local ms, why = M.ms(v)
  if not ms then error(M.message(fname, arg, why), level or 3) end
  return ms
end

-- ---- schema: option tables described instead of checked by hand ----
--
--   local OPTS = argcheck.schema{
--     { "name", type = "string", nonempty = true, default = "x" },
--     { "count", type = "integer", min = 1, default = 1 },
--     { "interval", type = "duration", default = "1m", to = "interval_ms" },
--     { "mode", enum = { "a", "b" }, default = "a" },
--     unknown = "unknown option" }
--   local o = OPTS(t, "opts.")   -- a new table of the checked values
--
-- A field: `type` one of string, number (not NaN), integer (a whole finite
-- number), boolean, function, table, duration (read as milliseconds);
-- `enum` a list of the allowed values; `min`/`max` inclusive bounds and
-- `above`/`below` exclusive ones; `nonempty` for strings; `required`;
-- `fields` another schema for a table's own fields (checked with the prefix
-- "field."); `check` a function(arg, v, ctx, r) -> v for what the rules
-- cannot say (it raises with bad(); it sees nil too); `derived` a
-- function(r, ctx) giving the result when the key is absent, already in
-- result units (a duration's milliseconds) and not checked again (nil: go
-- on to `default`); `default` a value, or
-- function(r, ctx) of the fields checked so far; `to` the key in the
-- result; `msg` what the message says is expected (else it is spelled
-- from the rules). Fields are checked in their order, defaults too.
-- `unknown` is the message for a key the schema lacks (default "unknown
-- option (known: a, b, ...)"). The check raises bad(prefix .. field, msg)
-- at the first misuse; ctx is passed on to `check` and `default`.

local TYPE_TEXT = {
  string = "a string expected", number = "a number expected", boolean = "true or false",
  ["function"] = "a function expected", table = "a table expected",
}

local function quoted_list(list)
  local q = {}
  for i, v in ipairs(list) do q[i] = string.format("%q", v) end
  if #q == 1 then return q[1] end
  return table.concat(q, ", ", 1, #q - 1) .. " or " .. q[#q]
end

local function bounds(f)
  local parts = {}
  if f.min then parts[#parts + 1] = ">= " .. f.min end
  if f.above then parts[#parts + 1] = "> " .. f.above end
  if f.max then parts[#parts + 1] = "<= " .. f.max end
  if f.below then parts[#parts + 1] = "< " .. f.below end
  return table.concat(parts, " and ")
end

-- What field f expects, in words, when it gives no msg; v is what it got.
local function expected(f, v)
  if f.enum then return quoted_list(f.enum) end
  local b = bounds(f)
  if f.type == "integer" then return "a whole number" .. (b ~= "" and (" " .. b) or "") end
  if f.type == "number" and b ~= "" then return "a number " .. b end
  if f.type == "duration" then
    return "a duration like \"30s\", \"5m\" or a number of seconds expected, got "
      .. (type(v) == "string" and ("'" .. v .. "'") or type(v))
  end
  if f.type == "string" and f.nonempty then return "a non-empty string expected" end
  return TYPE_TEXT[f.type] or "a valid value"
end

local function in_range(f, v)
  return not ((f.min and v < f.min) or (f.max and v > f.max)
    or (f.above and v <= f.above) or (f.below and v >= f.below))
end

-- true and the value of field f (a duration in ms), or false.
local function value_of(f, v)
  if f.enum then
    for _, x in ipairs(f.enum) do if v == x then return true, v end end
    return false
  end
  local t = f.type
  if t == "duration" then
    v = M.ms(v)
    if not v then return false end
  elseif t == "integer" then
    if type(v) ~= "number" or v ~= math.floor(v) or v == math.huge or v == -math.huge then
      return false
    end
  elseif t == "number" then
    if type(v) ~= "number" or v ~= v then return false end
  elseif t and type(v) ~= t then
    return false
  end
  if type(v) == "number" and not in_range(f, v) then return false end
  if t == "string" and f.nonempty and v == "" then return false end
  return true, v
end

function M.schema(spec)
  local allowed = {}
  for _, f in ipairs(spec) do allowed[f[1]] = true end
  local unknown_msg = spec.unknown or ("unknown option (known: " .. M.known(allowed) .. ")")
  return function(t, prefix, ctx)
    prefix = prefix or ""
    local k = M.unknown(t, allowed)
    if k ~= nil then M.bad(prefix .. tostring(k), unknown_msg) end
    local r = {}
    for _, f in ipairs(spec) do
      local name = f[1]
      local v = t[name]
      if v == nil and f.derived then
        -- Computed from results already checked (in result units: a
        -- duration's milliseconds), so not checked or converted again.
        local d = f.derived(r, ctx)
        if d ~= nil then
          r[f.to or name] = d
          goto next
        end
      end
      if v == nil and f.default ~= nil then
        v = f.default
        if type(v) == "function" then v = v(r, ctx) end
      end
      if v == nil and f.required then M.bad(prefix .. name, f.msg or expected(f, v)) end
      if v ~= nil and (f.type or f.enum) then
        local ok, x = value_of(f, v)
        if not ok then M.bad(prefix .. name, f.msg or expected(f, v)) end
        v = x
      end
      if v ~= nil and f.fields then v = f.fields(v, prefix .. name .. ".", ctx) end
      if f.check then v = f.check(prefix .. name, v, ctx, r) end
      r[f.to or name] = v
      ::next::
    end
    return r
  end
end

return M
