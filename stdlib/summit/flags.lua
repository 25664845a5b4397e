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

local M = {}

M.DEFAULT_CONFIGMAP = "feature-flags"

local Bad = {}

local function argerr(fname, arg, msg)
  error(setmetatable({ text = string.format("flags.%s: bad argument '%s' (%s)", fname, arg, msg) },
    Bad), 0)
end

-- check(fn, ...) -> fn's results; a misuse raises at the runbook's line.
local function check(fn, ...)
  local r = { pcall(fn, ...) }
  if r[1] then return unpack(r, 2, table.maxn(r)) end
  if getmetatable(r[2]) == Bad then error(r[2].text, 3) end
  error(r[2], 0)
end

local function name_arg(fname, name)
  if type(name) ~= "string" or name == "" then
    argerr(fname, "name", "a flag name expected")
  end
  -- A ConfigMap key: letters, digits, '-', '_', '.', at most 253.
  if not name:match("^[-._%w]+$") or #name > 253 then
    argerr(fname, "name", "letters, digits, '-', '_' and '.' only (a ConfigMap key), got '" .. name .. "'")
  end
  return name
end

local function percent_arg(fname, arg, p)
  if type(p) ~= "number" or p ~= p or p < 0 or p > 100 then
    argerr(fname, arg, "a percentage from 0 to 100 expected, got " .. tostring(p))
  end
  return p
end

local function opts_arg(fname, o)
  if o == nil then o = {} end
  if type(o) ~= "table" then argerr(fname, "opts", "a table expected") end
  local r = { configmap = o.configmap or M.DEFAULT_CONFIGMAP, namespace = o.namespace }
  if type(r.configmap) ~= "string" or not r.configmap:match("^[a-z0-9][-a-z0-9.]*$")
      or r.configmap:match("[-.]$") then
    argerr(fname, "configmap", "a ConfigMap name expected, got " .. tostring(r.configmap))
  end
  if r.namespace ~= nil and (type(r.namespace) ~= "string" or r.namespace == "") then
    argerr(fname, "namespace", "a namespace name expected")
  end
  if o.cluster ~= nil and (type(o.cluster) ~= "table" or type(o.cluster.get) ~= "function") then
    argerr(fname, "cluster", "a client from cluster() expected")
  end
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
  local o = check(function()
    name_arg("set", name)
    percent_arg("set", "percent", pct)
    return opts_arg("set", opts)
  end)
  return set(o, name, pct)
end

function M.enable(name, opts)
  local o = check(function() name_arg("enable", name); return opts_arg("enable", opts) end)
  return set(o, name, 100)
end

function M.disable(name, opts)
  local o = check(function() name_arg("disable", name); return opts_arg("disable", opts) end)
  return set(o, name, 0)
end

-- get(name, opts) -> the percentage, or nil when the flag (or the
-- ConfigMap) is not there. One journaled read.
function M.get(name, opts)
  local o = check(function() name_arg("get", name); return opts_arg("get", opts) end)
  local cm = read(o)
  return parse_value(name, cm and cm.data and cm.data[name])
end

-- all(opts) -> { [name] = percentage } of every flag in the ConfigMap.
function M.all(opts)
  local o = check(opts_arg, "all", opts)
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
  local o, between = check(function()
    name_arg("rollout", name)
    if type(steps) ~= "table" or #steps == 0 then
      argerr("rollout", "steps", "a list of percentages expected, e.g. { 10, 50, 100 }")
    end
    for i, p in ipairs(steps) do
      percent_arg("rollout", "steps[" .. i .. "]", p)
      if i > 1 and p <= steps[i - 1] then argerr("rollout", "steps", "percentages must increase") end
    end
    if opts ~= nil and type(opts) ~= "table" then argerr("rollout", "opts", "a table expected") end
    local fn = opts and opts.between
    if fn ~= nil and type(fn) ~= "function" then argerr("rollout", "between", "a function expected") end
    return opts_arg("rollout", opts), fn
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
