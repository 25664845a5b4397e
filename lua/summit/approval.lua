-- approval.require{...}: a gate the run waits at until people approve it
-- (docs/approvals.md). One journal entry of kind "approval" named after the
-- gate: a replay returns the recorded outcome, a changed call diverges. The
-- request (the policy, merged with the environment's from summit.lua, the
-- approvers' roles and the deadline) is fixed when the gate opens and is
-- stored with the entry and in the gate's row, where `summit approve`
-- reads it; the decisions are judged in C (engine/approval.c).
local E = require("summit.engine")
local T = require("summit.c.task")
local A = require("summit.c.approval")
local out = require("summit.c.out")
local json = require("summit.json")
local errors = require("summit.errors")
local C = require("summit.config")
local util = require("summit.util")
local argcheck = require("summit.args")

local M = {}

local OPTIONS = {
  gate = true, count = true, roles = true, distinct = true, allow_self = true,
  timeout = true, on_timeout = true, reason = true, bind = true, signed = true,
}
-- What environments.NAME.approval in summit.lua may say.
local ENV_OPTIONS = {
  count = true, roles = true, distinct = true, allow_self = true,
  timeout = true, on_timeout = true, reason = true, signed = true,
}
local ON_TIMEOUT = { fail = true, pause = true, rollback = true }
local MAX_COUNT = 100

local function whole(v, lo)
  return type(v) == "number" and v == math.floor(v) and v >= lo and v <= MAX_COUNT
end

local rfc3339 = util.rfc3339

-- The checks a call and an environment's policy share. Returns nil, or
-- the name of the bad option and what it should be.
local function check_policy(o, allowed)
  local unknown = argcheck.unknown(o, allowed)
  if unknown ~= nil then return tostring(unknown), "unknown option (known: " .. argcheck.known(allowed) .. ")" end
  if o.count ~= nil and not whole(o.count, 1) then
    return "count", "a whole number from 1 to " .. MAX_COUNT
  end
  local r = o.roles
  if r ~= nil then
    if type(r) ~= "table" or next(r) == nil then
      return "roles", "a list of roles, or a table of per-role minimums { lead = 1 }"
    end
    local n = #r
    for k, v in pairs(r) do
      if n > 0 then
        if type(k) ~= "number" or type(v) ~= "string" or v == "" then
          return "roles", "a list of role names (strings)"
        end
      elseif type(k) ~= "string" or k == "" or not whole(v, 1) then
        return "roles", "per-role minimums: role names mapped to whole numbers >= 1"
      end
    end
  end
  for _, b in ipairs({ "distinct", "allow_self", "signed" }) do
    if o[b] ~= nil and type(o[b]) ~= "boolean" then return b, "true or false" end
  end
  if o.timeout ~= nil then
    local ms = argcheck.ms(o.timeout)
    if not ms or ms <= 0 then return "timeout", "a duration such as \"4h\" or 3600" end
  end
  if o.on_timeout ~= nil and not ON_TIMEOUT[o.on_timeout] then
    return "on_timeout", "\"fail\", \"pause\" or \"rollback\""
  end
  if o.reason ~= nil and type(o.reason) ~= "string" then return "reason", "a string" end
end

local function check_call(o)
  if type(o) ~= "table" then return "spec", "a table expected: approval.require{ gate = ... }" end
  local bad, why = check_policy(o, OPTIONS)
  if bad then return bad, why end
  if type(o.gate) ~= "string" or not o.gate:match("^[%w][%w_.:@/-]*$") or #o.gate > 100 then
    return "gate", "a name of letters, digits and _ . : @ / - (such as \"production\")"
  end
  if o.bind ~= nil then
    if type(o.bind) ~= "table" then return "bind", "a table of the values approved { version = ... }" end
    for k, v in pairs(o.bind) do
      if type(k) ~= "string" or not k:match("^[%w_.-]+$") then
        return "bind", "keys must be names of letters, digits and _ . - (got " .. tostring(k) .. ")"
      end
      local t = type(v)
      if not (t == "string" or t == "boolean" or (t == "number" and v == v and v ~= math.huge
          and v ~= -math.huge)) then
        return "bind." .. k, "a string, number or boolean (got a " .. t .. ")"
      end
    end
  end
  if o.on_timeout ~= nil and o.timeout == nil then return "on_timeout", "needs timeout" end
end

-- The policy of the call with the environment's (environments[gate].approval
-- in summit.lua) as a floor; raises at level lvl on a bad summit.lua policy.
local function merge(o, lvl)
  local p = {
    gate = o.gate, count = o.count or 1, roles = o.roles,
    distinct = o.distinct ~= false, allow_self = o.allow_self == true,
    signed = o.signed == true, timeout = o.timeout, on_timeout = o.on_timeout,
    reason = o.reason, bind = o.bind or {},
  }
  local cfg = C.current
  local envs = cfg and cfg.environments
  local e = type(envs) == "table" and envs[o.gate]
  local ea = type(e) == "table" and e.approval
  if ea then
    local bad, why = check_policy(ea, ENV_OPTIONS)
    if bad then
      error(string.format("approval.require: %s: environments.%s.approval: bad '%s' (%s)",
        C.path or "summit.lua", o.gate, bad, why), lvl)
    end
    p.count = math.max(p.count, ea.count or 1)
    p.distinct = p.distinct or ea.distinct == true
    p.allow_self = p.allow_self and ea.allow_self ~= false
    p.signed = p.signed or ea.signed == true
    if p.roles == nil then p.roles, p.roles_from = ea.roles, "environments." .. o.gate .. ".approval" end
    p.timeout = p.timeout or ea.timeout
    p.on_timeout = p.on_timeout or ea.on_timeout
    p.reason = p.reason or ea.reason
  end
  if p.timeout then p.on_timeout = p.on_timeout or "fail" else p.on_timeout = nil end
  return p
end

-- summit.lua's approvers: name -> list of roles (strings only).
local function approvers()
  local a = {}
  local cfg = C.current
  if cfg and type(cfg.approvers) == "table" then
    for who, roles in pairs(cfg.approvers) do
      if type(who) == "string" and type(roles) == "table" then
        local list = {}
        for _, r in ipairs(roles) do
          if type(r) == "string" then list[#list + 1] = r end
        end
        a[who] = list
      end
    end
  end
  return a
end

-- nil, or why no one could ever release the gate with these roles.
local function unreachable(p, who)
  local roles = p.roles
  if not roles then return end
  local function holders(set)
    local n, list = 0, {}
    for name, rs in pairs(who) do
      for _, r in ipairs(rs) do
        if set[r] then
          n = n + 1
          list[#list + 1] = name
          break
        end
      end
    end
    table.sort(list)
    return n, table.concat(list, ", ")
  end
  if #roles > 0 then
    local set = {}
    for _, r in ipairs(roles) do set[r] = true end
    if holders(set) == 0 then
      return string.format("no one in summit.lua's approvers holds %s",
        table.concat(roles, " or "))
    end
  else
    for role, min in pairs(roles) do
      local n, list = holders({ [role] = true })
      if n < min then
        return string.format("needs %d approver%s holding %s, but summit.lua's approvers "
          .. "give that role to %d%s", min, min == 1 and "" or "s", role, n,
          n > 0 and (" (" .. list .. ")") or "")
      end
    end
  end
end

-- signers() -> the absolute path of summit.lua's allowed_signers file, or
-- nil and why (summit run --sign checks a start against it).
function M.signers()
  local cfg = C.current
  if not (cfg and cfg.allowed_signers) then
    return nil, "summit.lua names no allowed_signers file (allowed_signers = \"allowed_signers\")"
  end
  local path, readable = A.abspath(cfg.allowed_signers, C.path)
  if not readable then
    return nil, string.format("the allowed_signers file %s named in summit.lua cannot be read", path)
  end
  return path
end

-- approval.require{ gate, count, roles, distinct, allow_self, timeout,
-- on_timeout, reason, bind, signed } -> { gate, bind, approvers = {...} }
function M.require(o)
  local bad, why = check_call(o)
  if bad then error(argcheck.message("approval.require", bad, why), 2) end
  local p = merge(o, 3)
  local who = approvers()
  local stuck = unreachable(p, who)
  if stuck then
    error(argcheck.message("approval.require", "roles", string.format("gate '%s' %s%s", p.gate,
      stuck, p.roles_from and (" ; the roles come from " .. p.roles_from .. " in summit.lua") or "")), 2)
  end
  local signers
  if p.signed then
    local cfg = C.current
    if not (cfg and cfg.allowed_signers) then
      error(argcheck.message("approval.require", "signed", "a signed gate needs an allowed_signers "
        .. "file named in summit.lua: allowed_signers = \"allowed_signers\""), 2)
    end
    local readable
    signers, readable = A.abspath(cfg.allowed_signers, C.path)
    if not readable then
      error(argcheck.message("approval.require", "signed", string.format("the allowed_signers file "
        .. "%s named in summit.lua cannot be read", signers)), 2)
    end
  end
  -- What the code asks for (compared on replay); the policy merged from
  -- summit.lua is stored, not compared, so editing summit.lua does not
  -- make a waiting run diverge.
  local identity = json.encode({
    gate = o.gate, count = o.count, roles = o.roles, distinct = o.distinct,
    allow_self = o.allow_self, timeout = o.timeout, on_timeout = o.on_timeout,
    reason = o.reason, bind = o.bind, signed = o.signed,
  })
  return E.entry("approval", p.gate, identity, {
    stored = function(prev)
      if prev and prev.state == "started" and prev.args and prev.args ~= "" then
        return prev.args
      end
      local info = A.info()
      local deadline
      if p.timeout then
        deadline = math.floor(T.now_ms() + T.duration_ms(p.timeout) / T.time_scale())
      end
      return json.encode({
        gate = p.gate, count = p.count, roles = p.roles, distinct = p.distinct,
        allow_self = p.allow_self, signed = p.signed, bind = p.bind,
        reason = p.reason, timeout = p.timeout, on_timeout = p.on_timeout,
        deadline = deadline, started_by = info.started_by, approvers = who,
        allowed_signers = signers, source_sha256 = info.source_sha256,
        run = info.run, attempt = prev and (prev.attempt + 1) or 1,
      })
    end,
  }, function(_, stored, key)
    local req = json.decode(stored)
    req.key = key
    local text = json.encode(req)
    local _, deadline, needs = A.open(key, req.attempt, req.gate, text, req.deadline)
    local command = string.format("summit approve %s --gate %s", req.run, req.gate)
    -- approval.requested notifications (summit.notify), keyed under this
    -- gate and attempt: sent once per opening, never failing the wait.
    if C.notification_rules() then
      pcall(require("summit.notify").approval_requested, { key = key, attempt = req.attempt,
        gate = req.gate, needs = needs, command = command, reason = req.reason,
        deadline_ms = deadline })
    end
    local started = {
      key = key, kind = "approval", gate = req.gate, attempt = req.attempt,
      needs = needs, command = command, reason = req.reason,
      ["until"] = deadline and rfc3339(deadline) or nil,
      signed = req.signed or nil, bind = next(req.bind) and req.bind or nil,
    }
    local function finished(outcome, extra)
      local f = { key = key, kind = "approval", gate = req.gate, outcome = outcome }
      for k, v in pairs(extra or {}) do f[k] = v end
      out.emit("wait.finished", f)
    end
    local record = { gate = req.gate, key = key, attempt = req.attempt, bind = req.bind }
    while true do
      local r, code, msg = A.wait(key, text, deadline, E.deadline(), started)
      if r == nil then
        A.close(key)
        E.check_wait(r, code, msg)
      end
      if r.waited then started = nil end
      if r.state == "approved" then
        local by = {}
        for i, a in ipairs(r.approvers) do by[i] = a.actor end
        record.approvers = by
        A.close(key, "approval.granted", record)
        if started == nil then finished("approved", { approvers = by }) end
        return { gate = req.gate, bind = req.bind, approvers = r.approvers }
      elseif r.state == "rejected" then
        -- `summit reject` recorded approval.rejected.
        A.close(key)
        if started == nil then finished("rejected", { by = r.by }) end
        error(errors.new("EREJECTED", string.format("gate '%s' was rejected by %s%s", req.gate,
          r.by, r.comment and (": " .. r.comment) or ""),
          -- A person's decision: a step's retries do not ask again.
          { gate = req.gate, by = r.by, comment = r.comment, retryable = false }), 0)
      elseif req.on_timeout == "pause" then
        -- Overdue: the gate stays open without a deadline; late approvals
        -- still release it.
        record.have, record.need, record.deadline = r.have, r.need, rfc3339(deadline)
        A.overdue(key, record)
        out.emit("approval.overdue", { key = key, gate = req.gate, have = r.have,
          need = r.need, needs = r.needs, command = command })
        deadline = nil
        record.have, record.need, record.deadline = nil, nil, nil
      else
        record.have, record.need, record.on_timeout = r.have, r.need, req.on_timeout
        A.close(key, "approval.timed_out", record)
        if started == nil then finished("timed_out") end
        error(errors.new("ETIMEDOUT", string.format(
          "approval gate '%s' timed out after %s with %d of %d approvals (still needs %s)",
          req.gate, tostring(req.timeout), r.have, r.need, r.needs or "?"),
          { gate = req.gate, have = r.have, need = r.need, retryable = false,
            -- "fail" leaves the run failed and resumable (the gate is asked
            -- again); "rollback" runs the undo path.
            no_undo = req.on_timeout ~= "rollback" or nil }), 0)
      end
    end
  end)
end

return M
