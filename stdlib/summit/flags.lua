-- summit.flags: feature flags at a percentage, kept in a ConfigMap
-- (docs/stdlib/flags.md).
--
--   local flags = require("summit.flags")
--   flags.set("new-checkout", 25)                    -- data["new-checkout"] = "25"
--   flags.enable("new-checkout") / flags.disable("new-checkout")
--   local pct = flags.get("new-checkout")            -- 25, or nil when unset
--   flags.rollout("new-checkout", { 10, 50, 100 }, { between = function(pct) ... end })
--
-- The ConfigMap (default `feature-flags` in the environment's namespace)
-- holds one key per flag whose value is the percentage as a decimal
-- number ("0" to "100"). Every change is a step whose undo puts back the
-- value it replaced (or removes the key, or deletes the ConfigMap it
-- created), so a run that fails afterwards leaves the flags as it found
-- them.
local api = require("summit.api")
local json = require("summit.json")
local errors = require("summit.errors")
local argcheck = require("summit.args")

local M = {}

M.DEFAULT_CONFIGMAP = "feature-flags"

-- Arguments: bad() inside the checks below; argcheck.guard("flags.x", 2,
-- ...) in each public function raises it at the runbook's line.
local bad = argcheck.bad

local function name_arg(name)
  if type(name) ~= "string" or name == "" then
    bad("name", "a flag name expected")
  end
  -- A ConfigMap key: letters, digits, '-', '_', '.', at most 253.
  if not name:match("^[-._%w]+$") or #name > 253 then
    bad("name", "letters, digits, '-', '_' and '.' only (a ConfigMap key), got '" .. name .. "'")
  end
  return name
end

local function opts_arg(o)
  if o == nil then o = {} end
  if type(o) ~= "table" then bad("opts", "a table expected") end
  local r = { configmap = o.configmap or M.DEFAULT_CONFIGMAP, namespace = o.namespace }
  if type(r.configmap) ~= "string" or not r.configmap:match("^[a-z0-9][-a-z0-9.]*$")
      or r.configmap:match("[-.]$") then
    bad("configmap", "a ConfigMap name expected, got " .. tostring(r.configmap))
  end
  if r.namespace ~= nil and (type(r.namespace) ~= "string" or r.namespace == "") then
    bad("namespace", "a namespace name expected")
  end
  argcheck.client("cluster", o.cluster)
  r.k = o.cluster or api.cluster()
  r.nso = { namespace = r.namespace }
  r.ref = "configmap/" .. r.configmap
  return r
end

local function text(p)
  return p % 1 == 0 and string.format("%d", p) or string.format("%g", p)
end

-- The ConfigMap, or nil when there is none.
local function read(o)
  local ok, cm = pcall(o.k.get, o.k, o.ref, o.nso)
  if ok then return cm end
  if type(cm) == "table" and (cm.reason == "NotFound" or cm.code == "ENOTFOUND") then return nil end
  error(cm, 0)
end

local function parse_value(name, v)
  if v == nil then return nil end
  local n = tonumber(v)
  if not n or n < 0 or n > 100 then
    error(errors.new("EFLAG", string.format("flag '%s' holds '%s', not a percentage from 0 to 100",
      name, tostring(v))), 0)
  end
  return n
end

-- Writes `value` (a string, or json.null to remove the key).
local function write(o, name, value)
  return o.k:patch(o.ref, { data = { [name] = value } }, { type = "merge", namespace = o.namespace })
end

local function undo_change(o, name, r)
  local cm = read(o)
  if not cm then return end
  if r.created then
    local left = 0
    for k in pairs(cm.data or {}) do if k ~= name then left = left + 1 end end
    if left == 0 then
      local ok, err = pcall(o.k.delete, o.k, o.ref, o.nso)
      if not ok and not (type(err) == "table" and err.reason == "NotFound") then error(err, 0) end
      return
    end
  end
  write(o, name, r.previous or json.null)
end

local function set(o, name, pct)
  local value = text(pct)
  return api.step{ string.format("flag %s = %s%%", name, value), function()
    local cm = read(o)
    if not cm then
      local ok, err = pcall(o.k.create, o.k, { apiVersion = "v1", kind = "ConfigMap",
        metadata = { name = o.configmap, namespace = o.namespace }, data = { [name] = value } }, o.nso)
      if ok then return { created = true, value = value } end
      -- Someone created it in between: change it as it now is.
      if not (type(err) == "table" and err.reason == "AlreadyExists") then error(err, 0) end
      cm = read(o) or error(err, 0)
    end
    local previous = cm.data and cm.data[name]
    if previous ~= value then write(o, name, value) end
    return { previous = previous, value = value }
  end, undo = function(r) undo_change(o, name, r) end }
end

-- set(name, percent, { configmap =, namespace =, cluster = }) -> { previous, value, created }
function M.set(name, pct, opts)
  local o = argcheck.guard("flags.set", 2, function()
    name_arg(name)
    argcheck.percent("percent", pct)
    return opts_arg(opts)
  end)
  return set(o, name, pct)
end

function M.enable(name, opts)
  local o = argcheck.guard("flags.enable", 2, function() name_arg(name); return opts_arg(opts) end)
  return set(o, name, 100)
end

function M.disable(name, opts)
  local o = argcheck.guard("flags.disable", 2, function() name_arg(name); return opts_arg(opts) end)
  return set(o, name, 0)
end

-- get(name, opts) -> the percentage, or nil when the flag (or the
-- ConfigMap) is not there. One journaled read.
function M.get(name, opts)
  local o = argcheck.guard("flags.get", 2, function() name_arg(name); return opts_arg(opts) end)
  local cm = read(o)
  return parse_value(name, cm and cm.data and cm.data[name])
end

-- all(opts) -> { [name] = percentage } of every flag in the ConfigMap.
function M.all(opts)
  local o = argcheck.guard("flags.all", 2, opts_arg, opts)
  local cm = read(o)
  local r = {}
  for k, v in pairs(cm and cm.data or {}) do r[k] = parse_value(k, v) end
  return r
end

-- rollout(name, { 10, 50, 100 }, { between = fn(percent), configmap =, namespace = })
-- -> the percentages set. Each percentage is one step (the change, then
-- `between` unless it is the last), so a resumed run continues with the
-- percentage it was at and redoes nothing.
function M.rollout(name, steps, opts)
  local o, between = argcheck.guard("flags.rollout", 2, function()
    name_arg(name)
    if type(steps) ~= "table" or #steps == 0 then
      bad("steps", "a list of percentages expected, e.g. { 10, 50, 100 }")
    end
    for i, p in ipairs(steps) do
      argcheck.percent("steps[" .. i .. "]", p)
      if i > 1 and p <= steps[i - 1] then bad("steps", "percentages must increase") end
    end
    if opts ~= nil and type(opts) ~= "table" then bad("opts", "a table expected") end
    local fn = opts and opts.between
    if fn ~= nil and type(fn) ~= "function" then bad("between", "a function expected") end
    return opts_arg(opts), fn
  end)
  local done = {}
  for i, p in ipairs(steps) do
    api.step(string.format("flag %s rollout %s%%", name, text(p)), function()
      set(o, name, p)
      if between and i < #steps then between(p) end
    end)
    done[#done + 1] = p
  end
  return done
end

return M
