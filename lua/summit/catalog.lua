-- The runbook catalog (docs/runbooks.md): where runbooks are found by
-- name, what `summit runbooks` prints, and the version rule. The C side
-- (core/engine/catalog.c) lists the directories and loads each file in
-- the sandbox; this module decides and formats.
local json = require("summit.json")
local config = require("summit.config")
local util = require("summit.util")
local argcheck = require("summit.args")
-- Descriptions and names come from runbook files: shown, not obeyed.
local term = require("summit.c.out").term

local M = {}

-- semver(v) -> true, or nil and why. Semantic Versioning 2.0.0:
-- MAJOR.MINOR.PATCH, numbers without leading zeros, then an optional
-- -prerelease and +build of dot-separated [0-9A-Za-z-] identifiers.
function M.semver(v)
  if type(v) ~= "string" then return nil, "it is not a string" end
  local core, rest = v:match("^(%d+%.%d+%.%d+)(.*)$")
  if not core then
    if v:match("^[vV]%d") then return nil, "drop the leading 'v'" end
    return nil, "it is not MAJOR.MINOR.PATCH (like \"1.4.0\")"
  end
  for n in core:gmatch("%d+") do
    if #n > 1 and n:sub(1, 1) == "0" then return nil, "numbers must not have leading zeros" end
  end
  local pre, after = rest:match("^%-([^+]+)(.*)$")
  local build
  if pre then rest = after end
  if rest ~= "" then
    build = rest:match("^%+(.+)$")
    if not build then return nil, "unexpected '" .. rest .. "' after " .. core end
  end
  for _, part in ipairs({ pre or false, build or false }) do
    if part then
      for id in (part .. "."):gmatch("([^.]*)%.") do
        if id == "" or id:find("[^%w%-]") then
          return nil, "'" .. part .. "' is not a dot-separated list of [0-9A-Za-z-] identifiers"
        end
        if part == pre and id:match("^0%d+$") then
          return nil, "numeric pre-release identifiers must not have leading zeros"
        end
      end
    end
  end
  return true
end

-- version_problem(def) -> nil | "warning", msg | "error", msg
function M.version_problem(def)
  if def.version == nil then
    return "warning", string.format("runbook '%s' declares no version; add version = \"1.0.0\" "
      .. "(semantic versioning) so runs record which procedure they ran", def.name)
  end
  local ok, why = M.semver(def.version)
  if not ok then
    return "error", string.format("runbook '%s': version \"%s\" is not a semantic version: %s",
      def.name, tostring(def.version), why)
  end
end

local function dirname(p)
  return p:match("^(.*)/[^/]*$") or "."
end

-- dirs() -> the directories to search, in order: summit.lua's `runbooks`
-- list (relative to summit.lua), else runbooks/ next to summit.lua, else
-- runbooks/ in the working directory. Raises on a bad `runbooks` value.
function M.dirs()
  local cfg = config.current
  local base = config.path and dirname(config.path) or "."
  local list = cfg and cfg.runbooks
  if list == nil then list = { "runbooks" } end
  local out = {}
  for i, d in ipairs(list) do
    if type(d) ~= "string" or d == "" then
      error(string.format("%s: runbooks[%d] must be a directory name", config.path or "summit.lua", i), 0)
    end
    if d:sub(1, 1) == "/" then out[#out + 1] = d
    elseif base == "." then out[#out + 1] = d
    else out[#out + 1] = base .. "/" .. d end
  end
  return out
end

-- describe(def, file) -> { name, version, description, file, params }
function M.describe(def, file)
  local params = {}
  for _, name in ipairs(util.sorted_keys(def.params or {})) do
    local s = def.params[name]
    params[#params + 1] = { name = name, type = s.type, required = s.required == true or nil,
                            default = s.default, description = s.description, enum = s.enum,
                            pattern = s.pattern }
  end
  return { name = def.name, version = def.version, description = def.description,
           file = file, params = params }
end

-- check(list) -> problems: names declared by two files.
function M.duplicates(list)
  local seen, problems = {}, {}
  for _, r in ipairs(list) do
    if seen[r.name] then
      problems[#problems + 1] = string.format("runbook '%s' is declared by both %s and %s; "
        .. "`summit run %s` takes the first", r.name, seen[r.name], r.file, r.name)
    else
      seen[r.name] = r.file
    end
  end
  return problems
end

-- find(list, name) -> file, or nil and the message listing the known names.
function M.find(list, name, dirs)
  for _, r in ipairs(list) do
    if r.name == name then return r.file end
  end
  local known = {}
  for _, r in ipairs(list) do known[r.name] = true end
  return nil, string.format("'%s' is neither a runbook file nor the name of a runbook in %s "
    .. "(known: %s)", name, table.concat(dirs, ", "), argcheck.known(known))
end

local function param_text(p)
  local t = p.type or "string"
  local bits = { p.name .. " (" .. t .. (p.required and ", required" or "") .. ")" }
  if p.default ~= nil then bits[#bits + 1] = "default " .. json.encode(p.default) end
  if p.enum then
    local e = {}
    for i, v in ipairs(p.enum) do e[i] = tostring(v) end
    bits[#bits + 1] = "one of " .. table.concat(e, "|")
  end
  if p.description then bits[#bits + 1] = "- " .. p.description end
  return table.concat(bits, " ")
end

-- report(list, as_json): prints the catalog on stdout.
function M.report(list, as_json)
  if as_json then
    for _, r in ipairs(list) do
      -- params as an object keyed by name ({} when there are none).
      local params = {}
      for _, p in ipairs(r.params) do
        local c = {}
        for k, v in pairs(p) do if k ~= "name" then c[k] = v end end
        params[p.name] = c
      end
      io.write(json.encode({ name = r.name, version = r.version or json.null,
        description = r.description or json.null, file = r.file, params = params }), "\n")
    end
    return
  end
  if #list == 0 then return end
  local wn, wv = 4, 7
  for _, r in ipairs(list) do
    wn = math.max(wn, #term(r.name))
    wv = math.max(wv, #term(r.version or "-"))
  end
  io.write(string.format("%-" .. wn .. "s  %-" .. wv .. "s  %s\n", "NAME", "VERSION", "DESCRIPTION"))
  for _, r in ipairs(list) do
    io.write(string.format("%-" .. wn .. "s  %-" .. wv .. "s  %s\n", term(r.name),
      term(r.version or "-"), term(r.description or "")))
    io.write(string.format("%-" .. wn .. "s  %-" .. wv .. "s    file: %s\n", "", "", term(r.file)))
    for _, p in ipairs(r.params) do
      io.write(string.format("%-" .. wn .. "s  %-" .. wv .. "s    -p %s\n", "", "", term(param_text(p))))
    end
  end
end

return M
