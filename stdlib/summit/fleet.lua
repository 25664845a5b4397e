-- summit.fleet: one change rolled across many targets (clusters,
-- environments, regions) with a concurrency cap and an error budget, the
-- way AWS Systems Manager's MaxConcurrency / MaxErrors do (docs/stdlib/fleet.md).
--
--   local fleet = require("summit.fleet")
--   local r = fleet.rollout{
--     name = "web-v2", targets = { "eu", "us", "ap" },
--     max_concurrency = 1, max_errors = 0, on_budget = "fail",
--     each = function(t) rollout.rolling{ cluster = cluster(t.name), ... } end,
--   }
--
-- The fleet is one step ("fleet NAME"); each target runs as a branch of it
-- keyed by the target's name (KEY.eu/1 ...), so its entries are its own
-- and do not depend on timing. In the branch the target is a step
-- ("target eu"), followed by its audit record: a resumed run replays a
-- finished target (its result or its recorded failure) and re-enters the
-- one in flight. A target the journal shows as started is started again on
-- a resume whatever the budget says by then, so a replay reaches every
-- entry the first execution made.
local api = require("summit.api")
local E = require("summit.engine")
local T = require("summit.c.task")
local J = require("summit.c.journal")
local errors = require("summit.errors")
local argcheck = require("summit.args")

local M = {}

local bad = argcheck.bad

-- count(arg, v, n, lo) -> a whole number from v: a number, or "N" / "N%"
-- of the n targets (a percentage rounds down, as SSM's does, to at least
-- lo).
local function count(arg, v, n, lo)
  local num, pct = v, false
  if type(v) == "string" then
    local digits, sign = v:match("^%s*(%d+)%s*(%%?)%s*$")
    if not digits then
      bad(arg, "a whole number or a percentage like \"10%\" expected, got " .. string.format("%q", v))
    end
    num, pct = tonumber(digits), sign == "%"
  end
  if type(num) ~= "number" or num ~= math.floor(num) or num < 0 then
    bad(arg, "a whole number >= 0 or a percentage like \"10%\" expected, got " .. tostring(v))
  end
  if pct then
    if num > 100 then bad(arg, "a percentage from 0% to 100% expected, got " .. v) end
    num = math.floor(num * n / 100)
  end
  return math.max(num, lo)
end

-- The targets as { name =, index =, ... }: strings become { name = s };
-- a table keeps its fields (passed to each) and needs a name.
local function targets_arg(list)
  if type(list) ~= "table" or #list == 0 then
    bad("targets", "a non-empty list of target names or tables with a name expected")
  end
  local out, seen = {}, {}
  for k in pairs(list) do
    if type(k) ~= "number" then bad("targets", "a list expected (found the key " .. tostring(k) .. ")") end
  end
  for i, t in ipairs(list) do
    local a = "targets[" .. i .. "]"
    local target
    if type(t) == "string" then
      target = { name = t }
    elseif type(t) == "table" then
      target = {}
      for k, v in pairs(t) do target[k] = v end
    else
      bad(a, "a name or a table with a name expected, got " .. type(t))
    end
    local name = target.name
    -- The name is part of the journal keys (a branch name).
    if type(name) ~= "string" or not name:match("^[%w_-]+$") or #name > 64 then
      bad(a .. ".name", "a name of letters, digits, _ and - (at most 64) expected, got "
        .. (type(name) == "string" and string.format("%q", name) or type(name)))
    end
    if seen[name] then bad(a .. ".name", "two targets are named '" .. name .. "'") end
    seen[name] = true
    out[i] = target
  end
  return out
end

local ORDER = { given = true, name = true, reverse = true }

local function order_targets(targets, order)
  if order == nil or order == "given" then return targets end
  if order == "reverse" then
    local r = {}
    for i = #targets, 1, -1 do r[#r + 1] = targets[i] end
    return r
  end
  local r = {}
  for i, t in ipairs(targets) do r[i] = t end
  if order == "name" then
    table.sort(r, function(a, b) return a.name < b.name end)
  else
    -- A comparator: stable by the given position for ties.
    local pos = {}
    for i, t in ipairs(targets) do pos[t] = i end
    table.sort(r, function(a, b)
      if order(a, b) then return true end
      if order(b, a) then return false end
      return pos[a] < pos[b]
    end)
  end
  return r
end

local OPTIONS = { name = true, targets = true, max_concurrency = true, max_errors = true,
                  order = true, each = true, on_budget = true, gate = true, audit = true }

local function check(o)
  if type(o) ~= "table" then bad("opts", "a table expected") end
  local k = argcheck.unknown(o, OPTIONS)
  if k ~= nil then bad(tostring(k), "unknown option (known: " .. argcheck.known(OPTIONS) .. ")") end
  local c = {}
  c.name = o.name or "fleet"
  if type(c.name) ~= "string" or not c.name:match("^[%w_.:-]+$") then
    bad("name", "a name of letters, digits, _ . : - expected")
  end
  if type(o.each) ~= "function" then bad("each", "a function(target) expected") end
  c.each = o.each
  local ts = targets_arg(o.targets)
  local order = o.order
  if order ~= nil and not ORDER[order] and type(order) ~= "function" then
    bad("order", "\"given\", \"name\", \"reverse\" or a function(a, b) expected")
  end
  c.targets = order_targets(ts, order)
  c.max_concurrency = o.max_concurrency == nil and 1
    or count("max_concurrency", o.max_concurrency, #ts, 1)
  c.max_errors = o.max_errors == nil and 0 or count("max_errors", o.max_errors, #ts, 0)
  c.on_budget = o.on_budget or "fail"
  if c.on_budget ~= "fail" and c.on_budget ~= "pause" then
    bad("on_budget", "\"fail\" or \"pause\" expected")
  end
  if o.gate ~= nil and (type(o.gate) ~= "string" or not o.gate:match("^[%w_.:@/-]+$")) then
    bad("gate", "a gate name of letters, digits and _ . : @ / - expected")
  end
  if o.gate ~= nil and c.on_budget ~= "pause" then bad("gate", "only used with on_budget = \"pause\"") end
  c.gate = o.gate or ("fleet-" .. c.name)
  c.audit = o.audit ~= false
  return c
end

local function audit_record(c, action, detail)
  if c.audit then api.audit.record(action, detail) end
end

local function short(e)
  return { code = e.code, message = tostring(e.message):sub(1, 500), key = e.key }
end

-- One target, in its own branch: a step, then its audit record. Returns
-- the target's record; raises only an interruption (cancel, signal).
local function run_target(c, t)
  local ok, r = pcall(api.step, "target " .. t.name, function() return c.each(t) end)
  local rec = { name = t.name }
  if ok then
    rec.status, rec.result = "succeeded", r
  else
    local e = errors.normalize(r)
    if e.code == "ECANCELED" or e.code == "EINTR" then error(r, 0) end
    rec.status, rec.error = "failed", short(e)
  end
  audit_record(c, "fleet.target", { fleet = c.name, target = t.name, status = rec.status,
                                    error = rec.error })
  return rec
end

-- The scheduler of one fleet, in the fleet step's task: starts targets
-- in order while fewer than max_concurrency run and the budget holds;
-- waits for one to end; pauses or stops when the budget is spent.
local function schedule(c, key)
  local parent = T.self()
  local inherited = E.scope_state()
  local recs, handles = {}, {}
  local running, failed, next_i, waiting = 0, 0, 1, false
  local allowed, pauses = c.max_errors, 0
  local interrupted, stopped
  local function start(i)
    local t = c.targets[i]
    local prefix = J.branch(key, t.name)
    running = running + 1
    handles[#handles + 1] = T.spawn(function()
      E.enter_branch(prefix, inherited)
      local ok, rec = pcall(function()
        local r = run_target(c, t)
        E.end_branch(prefix)
        return r
      end)
      running = running - 1
      if ok then
        recs[t.name] = rec
        if rec.status == "failed" then failed = failed + 1 end
      elseif interrupted == nil then
        interrupted = rec
      end
      if waiting then waiting = false; T.wake(parent) end
    end)
  end
  local function was_started(i)
    return E.journaled(J.child(J.branch(key, c.targets[i].name), 1))
  end
  while true do
    if interrupted ~= nil then break end
    -- SSM: the budget is spent at the (max_errors + 1)th error.
    local spent = failed > allowed
    while next_i <= #c.targets and running < c.max_concurrency
        and (not spent or was_started(next_i)) do
      start(next_i)
      next_i = next_i + 1
    end
    if running > 0 then
      waiting = true
      T.suspend()
    elseif not spent then
      break   -- every target ran, within the budget
    elseif c.on_budget == "pause" then
      -- Nothing runs: ask a human whether the rest (or the runbook, when
      -- no target is left) may go on. Each approval allows max_errors
      -- more errors.
      pauses = pauses + 1
      local gate = pauses == 1 and c.gate or (c.gate .. "-" .. pauses)
      local left = #c.targets - next_i + 1
      require("summit.approval").require{
        gate = gate,
        reason = string.format("fleet %s: %d of %d targets failed, more than max_errors %d; %s",
          c.name, failed, #c.targets, allowed, left > 0
            and string.format("approve to start the %d left", left)
            or "approve to go on (no target is left)"),
      }
      allowed = failed + c.max_errors
    else
      stopped = true
      break
    end
  end
  if interrupted ~= nil then
    for _, h in ipairs(handles) do T.cancel(h) end
    error(interrupted, 0)
  end
  return recs, stopped, failed, pauses
end

-- rollout{...} -> { name, status, targets = {...}, succeeded, failed,
-- not_started, max_concurrency, max_errors } (docs/stdlib/fleet.md).
function M.rollout(opts)
  local c = argcheck.guard("fleet.rollout", 2, check, opts)
  local names = {}
  for i, t in ipairs(c.targets) do names[i] = t.name end
  local ident = table.concat(names, ",")
  return E.entry("step", "fleet " .. c.name, ident, { scope = true, fn = c.each }, function(_, _, key)
    local recs, stopped, failed, pauses = schedule(c, key)
    local list, counts = {}, { succeeded = 0, failed = 0, not_started = 0 }
    local first_failure
    for i, t in ipairs(c.targets) do
      local rec = recs[t.name] or { name = t.name, status = "not_started" }
      list[i] = rec
      counts[rec.status] = counts[rec.status] + 1
      if rec.status == "failed" and not first_failure then first_failure = rec end
    end
    local status = stopped and "stopped" or (failed > 0 and "completed_with_errors" or "succeeded")
    local r = { name = c.name, status = status, targets = list, succeeded = counts.succeeded,
                failed = counts.failed, not_started = counts.not_started,
                max_concurrency = c.max_concurrency, max_errors = c.max_errors,
                pauses = pauses > 0 and pauses or nil }
    audit_record(c, "fleet.finished", { fleet = c.name, status = status, succeeded = r.succeeded,
      failed = r.failed, not_started = r.not_started, max_errors = c.max_errors,
      max_concurrency = c.max_concurrency, targets = list })
    if stopped then
      local failed_names = {}
      for _, rec in ipairs(list) do
        if rec.status == "failed" then failed_names[#failed_names + 1] = rec.name end
      end
      error(errors.new("EFLEET", string.format("fleet %s stopped: %d target%s failed (%s), more "
        .. "than max_errors %d; %d not started", c.name, failed, failed == 1 and "" or "s",
        table.concat(failed_names, ", "), c.max_errors, counts.not_started),
        { fleet = r, retryable = false }), 0)
    end
    return r
  end)
end

-- For tests: the checks without the journal.
M._check = function(opts) return check(opts) end

return M
