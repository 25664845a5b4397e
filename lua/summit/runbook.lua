-- runbook{...}: the definition a runbook file returns, and its param schema.
local util = require("summit.util")
local argcheck = require("summit.args")
local secrets = require("summit.secrets")
local keys = require("summit.misspelt")
local M = {}

local TYPES = { string = true, number = true, integer = true, boolean = true }
local defined = setmetatable({}, { __mode = "k" })

local function fail(level, fmt, ...)
  error(string.format(fmt, ...), level + 1)
end

-- Raises approval.require's wording for the first key of t not in
-- allowed: "file:line: runbook: bad argument 'ARG' (unknown option
-- (known: ...))", ARG being prefix .. the key; the line is the caller's
-- `level` frames up, else where the loading chunk sets the key: the
-- loader sets M.loading to the chunk while it runs (loader.c), as
-- `return runbook{...}`, a tail call, leaves no frame naming the line.
local function no_unknown(t, allowed, prefix, level)
  local k = keys.unknown(t, allowed)
  if k == nil then return end
  local msg = keys.message("runbook", prefix .. tostring(k), allowed)
  local info = debug.getinfo(level + 1, "l")
  if (not info or info.currentline <= 0) and type(M.loading) == "function" then
    local site = keys.site(M.loading, k)
    if site then error(site .. ": " .. msg, 0) end
  end
  error(msg, level + 1)
end

local function type_ok(t, v)
  if t == "integer" then return type(v) == "number" and v == math.floor(v) end
  return type(v) == t
end

-- Checks one param's spec; returns the normalised spec or raises.
local function check_spec(rb, name, spec)
  if type(name) ~= "string" or not name:match("^[%a_][%w_%-]*$") then
    fail(3, "runbook '%s': param name %s is not a valid name", rb, tostring(name))
  end
  if type(spec) ~= "table" then
    fail(3, "runbook '%s': param '%s' must be a table like { type = \"string\" }", rb, name)
  end
  no_unknown(spec, keys.PARAM, "params." .. name .. ".", 3)
  local s = {}
  for k, v in pairs(spec) do s[k] = v end
  s.type = s.type or "string"
  if not TYPES[s.type] then
    fail(3, "runbook '%s': param '%s' has unknown type '%s' (string, number, integer, boolean)",
      rb, name, tostring(s.type))
  end
  if s.pattern ~= nil then
    if type(s.pattern) ~= "string" or s.type ~= "string" then
      fail(3, "runbook '%s': param '%s': pattern must be a string on a string param", rb, name)
    end
    local ok, err = pcall(string.find, "", s.pattern)
    if not ok then fail(3, "runbook '%s': param '%s': bad pattern: %s", rb, name, err) end
  end
  if s.enum ~= nil then
    if type(s.enum) ~= "table" or #s.enum == 0 then
      fail(3, "runbook '%s': param '%s': enum must be a non-empty list", rb, name)
    end
    for _, v in ipairs(s.enum) do
      if not type_ok(s.type, v) then
        fail(3, "runbook '%s': param '%s': enum value %s is not a %s", rb, name, tostring(v), s.type)
      end
    end
  end
  if s.secret ~= nil and type(s.secret) ~= "boolean" then
    fail(3, "runbook '%s': param '%s': secret must be true or false", rb, name)
  end
  if s.secret then
    -- docs/secrets.md: the value is never stored nor written in the file.
    if s.type ~= "string" then
      fail(3, "runbook '%s': param '%s': a secret param is a string", rb, name)
    end
    if s.default ~= nil then
      fail(3, "runbook '%s': param '%s': a secret param cannot have a default "
        .. "(it would be in the source, which every run pins); use env = or file =", rb, name)
    end
    if s.enum ~= nil then
      fail(3, "runbook '%s': param '%s': a secret param cannot have an enum", rb, name)
    end
    for _, k in ipairs({ "env", "file" }) do
      if s[k] ~= nil and (type(s[k]) ~= "string" or s[k] == "") then
        fail(3, "runbook '%s': param '%s': %s must be a non-empty string", rb, name, k)
      end
    end
  elseif s.env ~= nil or s.file ~= nil then
    fail(3, "runbook '%s': param '%s': env = and file = are for secret = true params", rb, name)
  end
  if s.default ~= nil and not type_ok(s.type, s.default) then
    fail(3, "runbook '%s': param '%s': default %s is not a %s", rb, name, tostring(s.default), s.type)
  end
  return s
end

-- runbook{ name, version, description, params, run } -> the definition.
function M.define(def)
  if type(def) ~= "table" then fail(2, "runbook{...} expects a table, got %s", type(def)) end
  if type(def.name) ~= "string" or def.name == "" then
    fail(2, "runbook{...}: 'name' must be a non-empty string")
  end
  no_unknown(def, keys.RUNBOOK, "", 2)
  if type(def.run) ~= "function" then
    fail(2, "runbook '%s': 'run' must be a function(params)", def.name)
  end
  if def.version ~= nil and type(def.version) ~= "string" then
    fail(2, "runbook '%s': 'version' must be a string like \"1.0.0\"", def.name)
  end
  local e = def.environment
  if e ~= nil and type(e) ~= "string" and type(e) ~= "table" and type(e) ~= "function"
      and e ~= true then
    fail(2, "runbook '%s': 'environment' must be a name, a list of names, true (the --env one) "
      .. "or a function(params, env) returning those", def.name)
  end
  local params = {}
  if def.params ~= nil then
    if type(def.params) ~= "table" then fail(2, "runbook '%s': 'params' must be a table", def.name) end
    for _, name in ipairs(util.sorted_keys(def.params)) do
      params[name] = check_spec(def.name, name, def.params[name])
    end
  end
  local d = {}
  for k, v in pairs(def) do d[k] = v end
  d.params = params
  defined[d] = true
  return d
end

function M.is(def) return defined[def] == true end

-- environments(def, params, env_name) -> the environments the run locks
-- (runbook{ environment = ... }), or nil and a message.
function M.environments(def, params, env_name)
  local e = def.environment
  if type(e) == "function" then
    local ok, r = pcall(e, params, env_name)
    if not ok then return nil, "environment(): " .. tostring(r) end
    e = r
  end
  if e == nil or e == false then return {} end
  if e == true then
    if not env_name then
      return nil, string.format("runbook '%s' locks the selected environment: give --env NAME", def.name)
    end
    return { env_name }
  end
  if type(e) == "string" then return { e } end
  if type(e) == "table" then
    for i, v in ipairs(e) do
      if type(v) ~= "string" then return nil, "environment[" .. i .. "] is not a name" end
    end
    return e
  end
  return nil, "environment must be a name or a list of names"
end

local function coerce(t, v)
  if type(v) ~= "string" then
    if type_ok(t, v) or (t == "number" and type(v) == "number") then return v end
    return nil
  end
  if t == "string" then return v end
  if t == "number" then return tonumber(v) end
  if t == "integer" then
    local n = tonumber(v)
    if n and n == math.floor(n) then return n end
    return nil
  end
  if t == "boolean" then
    if v == "true" or v == "yes" or v == "1" then return true end
    if v == "false" or v == "no" or v == "0" then return false end
    return nil
  end
end

-- resolve(def, raw) -> params, or nil and a list of messages. raw maps
-- names to strings (from -p) or JSON values (from --params-file).
function M.resolve(def, raw)
  local errs, out = {}, {}
  for _, name in ipairs(util.sorted_keys(raw)) do
    if not def.params[name] then
      errs[#errs + 1] = string.format("unknown param '%s' (runbook '%s' declares: %s)",
        tostring(name), def.name, argcheck.known(def.params))
    end
  end
  for _, name in ipairs(util.sorted_keys(def.params)) do
    local spec, v = def.params[name], raw[name]
    if spec.secret then
      -- The stored run holds the placeholder, never the value.
      if v == secrets.placeholder(name) then v = nil end
      if v == nil and (spec.env or spec.file) then
        local why
        v, why = secrets.read(spec)
        if v == nil and spec.required then
          errs[#errs + 1] = string.format("secret param '%s': %s; give -p %s=...", name, why, name)
        end
      end
      if v == nil and spec.required and not (spec.env or spec.file) then
        errs[#errs + 1] = string.format("missing secret param '%s' (it is never stored: "
          .. "give -p %s=...)", name, name)
      end
      if v ~= nil then
        if type(v) ~= "string" then
          errs[#errs + 1] = string.format("secret param '%s' must be a string", name)
        elseif #v < 4 then
          errs[#errs + 1] = string.format("secret param '%s' is shorter than 4 bytes, too "
            .. "short to be redacted by value", name)
        elseif spec.pattern and not v:find(spec.pattern) then
          errs[#errs + 1] = string.format("secret param '%s' does not match pattern %q",
            name, spec.pattern)
        end
      end
      out[name] = v
      goto continue
    end
    if v == nil then
      if spec.default ~= nil then
        v = spec.default
      elseif spec.required then
        errs[#errs + 1] = string.format("missing required param '%s' (%s%s)", name,
          spec.type, spec.description and ": " .. spec.description or "")
      end
    else
      local c = coerce(spec.type, v)
      if c == nil then
        errs[#errs + 1] = string.format("param '%s' must be %s %s, got %q",
          name, spec.type == "integer" and "an" or "a", spec.type, tostring(v))
      end
      v = c
    end
    if v ~= nil then
      if spec.pattern and not tostring(v):find(spec.pattern) then
        errs[#errs + 1] = string.format("param '%s' = %q does not match pattern %q",
          name, tostring(v), spec.pattern)
      end
      if spec.enum then
        local found = false
        for _, e in ipairs(spec.enum) do if e == v then found = true end end
        if not found then
          local allowed = {}
          for i, e in ipairs(spec.enum) do allowed[i] = tostring(e) end
          errs[#errs + 1] = string.format("param '%s' = %q is not one of: %s",
            name, tostring(v), table.concat(allowed, ", "))
        end
      end
    end
    out[name] = v
    ::continue::
  end
  if #errs > 0 then return nil, errs end
  return out
end

-- seal(def, params) -> the params to store: each secret param's value
-- registered for redaction and replaced by [secret:NAME]; or nil and
-- the list of problems.
function M.seal(def, params)
  local stored, errs = {}, {}
  for k, v in pairs(params) do
    local spec = def.params[k]
    if spec and spec.secret and v ~= nil then
      local ok, why = secrets.add(k, v)
      if not ok then errs[#errs + 1] = string.format("secret param '%s': %s", k, why) end
      stored[k] = secrets.placeholder(k)
    else
      stored[k] = v
    end
  end
  if #errs > 0 then return nil, errs end
  return stored
end

-- resumed(def, stored, raw) -> the params of a resumed run: the stored
-- ones, with the secret params read again (raw: -p of the resume, else
-- the param's env or file); or nil and the problems.
function M.resumed(def, stored, raw)
  local merged, errs = {}, {}
  for k, v in pairs(stored) do merged[k] = v end
  for _, k in ipairs(util.sorted_keys(raw)) do
    local spec = def.params[k]
    if not (spec and spec.secret) then
      errs[#errs + 1] = string.format("-p %s: only secret params are given again on resume "
        .. "(the others are stored with the run)", tostring(k))
    else
      merged[k] = raw[k]
    end
  end
  if #errs > 0 then return nil, errs end
  return M.resolve(def, merged)
end

return M
