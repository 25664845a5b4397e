-- summit.checklist: a pre-deployment checklist (docs/stdlib/checklist.md).
--
--   local checklist = require("summit.checklist")
--   local r = checklist.run("pre-deployment", {
--     { "tests pass on main", check = function() return checks.command_from_config("test") end },
--     { "staging is healthy", check = { url = "http://staging/healthz" } },
--     { "on-call engineer notified" },                 -- manual: a person acknowledges
--     { "rollback plan reviewed", roles = { "platform-lead" } },
--   }, { gate = "checklist", roles = { "senior-engineer" } })
--
-- Automatic items (a function, or a summit.checks spec) run first, each a
-- journaled step; if any fails the checklist fails naming them, and nobody
-- is asked. Manual items are acknowledged through approval.require: one
-- gate for the list by default, or one per item (per_item = true, or an
-- item with its own roles or gate). Every acknowledgement is recorded with
-- audit.record("checklist.ack", {...}) naming who acknowledged what.
local api = require("summit.api")
local errors = require("summit.errors")
local checks = require("summit.checks")
local argcheck = require("summit.args")

local M = {}

local bad = argcheck.bad   -- reported by argcheck.guard at the runbook's line

local GATE_CHARS = "^[%w_.:@/%-]+$"

local function slug(s)
  local g = s:lower():gsub("[^%w]+", "-"):gsub("^%-+", ""):gsub("%-+$", "")
  if g == "" then g = "item" end
  return g:sub(1, 48)
end

local function roles_arg(arg, v)
  if v == nil then return nil end
  if type(v) ~= "table" then bad(arg, "a list of roles expected") end
  return v
end

local function spec(name, items, o)
  if type(name) ~= "string" or name == "" then bad("name", "a non-empty string expected") end
  if type(items) ~= "table" or #items == 0 then bad("items", "a non-empty list of items expected") end
  if o ~= nil and type(o) ~= "table" then bad("opts", "a table expected") end
  o = o or {}
  local gate = o.gate or ("checklist-" .. slug(name))
  if type(gate) ~= "string" or not gate:match(GATE_CHARS) then
    bad("gate", "a gate name of letters, digits and _ . : @ / - expected")
  end
  local s = { name = name, gate = gate, roles = roles_arg("roles", o.roles), count = o.count,
              timeout = o.timeout, per_item = o.per_item == true, items = {}, auto = {}, manual = {} }
  local seen = {}
  for i, it in ipairs(items) do
    local where = "items[" .. i .. "]"
    if type(it) == "string" then it = { it } end
    if type(it) ~= "table" then bad(where, "a string or a table like { \"on-call notified\" } expected") end
    local text = it[1] or it.item
    if type(text) ~= "string" or text == "" then bad(where, "the item's text is missing") end
    if seen[text] then bad(where, "'" .. text .. "' appears twice") end
    seen[text] = true
    local c = it.check or it[2]
    local e = { item = text, roles = roles_arg(where .. ".roles", it.roles), gate = it.gate,
                optional = it.optional == true }
    if c ~= nil then
      if type(c) ~= "function" and type(c) ~= "table" then
        bad(where .. ".check", "a function or a summit.checks spec expected")
      end
      if type(c) == "table" and not (c.url or c.argv or c.command) then
        bad(where .. ".check", "a spec needs url, argv or command")
      end
      e.check = c
      s.auto[#s.auto + 1] = e
    else
      if e.gate ~= nil and (type(e.gate) ~= "string" or not e.gate:match(GATE_CHARS)) then
        bad(where .. ".gate", "a gate name of letters, digits and _ . : @ / - expected")
      end
      s.manual[#s.manual + 1] = e
    end
    s.items[i] = e
  end
  return s
end

-- Runs one automatic item as a step named after it.
local function run_auto(e)
  local c = e.check
  return pcall(function()
    if type(c) == "function" then
      return api.step(e.item, function()
        local v = c()
        if v == false or v == nil then
          error(errors.new("ECHECK", string.format("'%s' answered %s", e.item, tostring(v))), 0)
        end
        return v
      end)
    end
    local o = {}
    for k, v in pairs(c) do o[k] = v end
    o.name = o.name or e.item
    if o.url then return checks.http(o) end
    if o.argv then return checks.command(o) end
    local name = o.command
    o.command = nil
    return checks.command_from_config(name, o)
  end)
end

local function ask(s, gate, items, roles)
  local texts = {}
  for i, e in ipairs(items) do texts[i] = e.item end
  local a = api.approval.require{
    gate = gate, roles = roles or s.roles, count = s.count, timeout = s.timeout,
    reason = string.format("checklist '%s': acknowledge %s", s.name, table.concat(texts, "; ")),
    bind = { checklist = s.name, items = table.concat(texts, "; ") },
  }
  local first = (a.approvers or {})[1] or {}
  local by = {}
  for i, ap in ipairs(a.approvers or {}) do by[i] = ap.actor end
  for _, e in ipairs(items) do
    e.ok, e.kind, e.by, e.at, e.comment, e.gate_used = true, "manual", first.actor, first.ts,
      first.comment, gate
    api.audit.record("checklist.ack", { checklist = s.name, item = e.item, by = first.actor,
      approvers = by, comment = first.comment, gate = gate })
  end
end

-- checklist.run(name, items [, { gate, roles, count, timeout, per_item }])
-- -> { name, ok = true, items = { { item, kind, ok, by, at, comment?,
-- result?, error? }, ... } }. One journaled step ("checklist NAME").
function M.run(name, items, o)
  local s = argcheck.guard("checklist.run", 2, spec, name, items, o)
  return api.step("checklist " .. s.name, function()
    local failed = {}
    for _, e in ipairs(s.auto) do
      local ok, r = run_auto(e)
      e.kind, e.by = "auto", "summit"
      if ok then
        e.ok, e.result = true, r
      else
        local err = errors.normalize(r)
        if err.code == "ECANCELED" then error(err, 0) end
        e.ok, e.error = false, { code = err.code, message = tostring(err.message) }
        if not e.optional then failed[#failed + 1] = e.item end
        api.log.error("checklist %s: %s FAILED: %s", s.name, e.item, tostring(err.message))
      end
    end
    if #failed > 0 then
      local res = {}
      for i, e in ipairs(s.items) do res[i] = { item = e.item, ok = e.ok, error = e.error } end
      error(errors.new("ECHECK", string.format("checklist '%s': %d automatic item%s failed: %s",
        s.name, #failed, #failed == 1 and "" or "s", table.concat(failed, ", ")),
        { checklist = s.name, failed = failed, items = res }), 0)
    end
    -- The manual items: one gate for those that take the list's policy,
    -- one per item for those with their own (or all, with per_item).
    local shared = {}
    for _, e in ipairs(s.manual) do
      if s.per_item or e.roles or e.gate then
        ask(s, e.gate or (s.gate .. "/" .. slug(e.item)), { e }, e.roles)
      else
        shared[#shared + 1] = e
      end
    end
    if #shared > 0 then ask(s, s.gate, shared) end
    local out = {}
    for i, e in ipairs(s.items) do
      out[i] = { item = e.item, kind = e.kind, ok = e.ok, by = e.by, at = e.at, comment = e.comment,
                 gate = e.gate_used, result = e.result, error = e.error }
    end
    return { name = s.name, ok = true, items = out }
  end)
end

return M
