-- Journaled execution: deterministic keys, replay, divergence detection and
-- crash recovery. Every journaled call of a runbook goes through M.entry;
-- the C scheduler runs the coroutines (DESIGN §3-4).
local J = require("summit.c.journal")
local T = require("summit.c.task")
local out = require("summit.c.out")
local json = require("summit.json")
local errors = require("summit.errors")

local M = {}

local entries = {}     -- key -> newest journal row, as loaded at start
local siblings = {}    -- prefix -> highest counter the journal holds there
local retry = {}       -- keys to run again: the path of a failed run's error
local decision         -- { key, action = "retry"|"skip", by } for needs_attention
local on_first_new     -- called once before the first entry not in the journal
local ctxs = setmetatable({}, { __mode = "k" })  -- coroutine -> { prefix, n }

local function pack(...) return { n = select("#", ...), ... } end

-- setup{ failed_key =, decision =, on_first_new = }: loads the journal.
function M.setup(o)
  entries = J.load()
  siblings = {}
  for key in pairs(entries) do
    local prefix, n = J.split(key)
    if prefix and (siblings[prefix] or 0) < n then siblings[prefix] = n end
  end
  retry = {}
  if o.failed_key then
    for _, k in ipairs(J.ancestors(o.failed_key) or {}) do retry[k] = true end
  end
  decision = o.decision
  on_first_new = o.on_first_new
end

local function ctx()
  local co = T.self()
  local c = ctxs[co]
  if not c then
    c = { prefix = "", n = 0 }
    ctxs[co] = c
  end
  return c
end

-- Starts the key path of a parallel branch in the running coroutine.
function M.enter_branch(prefix) ctxs[T.self()] = { prefix = prefix, n = 0 } end

-- The runbook line that made the current call: the innermost frame that is
-- not summit's own code.
function M.site()
  for level = 2, 40 do
    local info = debug.getinfo(level, "Sl")
    if not info then break end
    local src = info.source
    if info.currentline > 0 and src:sub(1, 1) == "@"
        and src:sub(1, 8) ~= "@summit/" and src:sub(1, 12) ~= "@lua/summit/" then
      return src:sub(2) .. ":" .. info.currentline
    end
  end
  return "?"
end

-- True while the running path is still inside what the journal holds (log
-- lines are not printed twice when a resumed run replays).
function M.replaying()
  local c = ctx()
  return entries[J.child(c.prefix, c.n + 1)] ~= nil
end

local function divergence(key, prev, kind, name, args, why)
  T.halt({
    status = "diverged", key = key, why = why,
    journal = { kind = prev.kind, name = prev.name, hash = prev.hash, site = prev.site },
    code = { kind = kind, name = name, hash = args and J.hash(args), site = M.site() },
  })
end

-- A scope (the root, a step body, a branch) that ends while the journal
-- holds more entries in it means the code no longer reaches them.
local function check_scope_end(prefix, c)
  local max = siblings[prefix]
  if max and max > c.n then
    local key = J.child(prefix, c.n + 1)
    divergence(key, entries[key], nil, nil, nil,
      "the code ended this scope, but the journal holds more entries in it")
  end
end

-- Called when a parallel branch's function returns.
function M.end_branch(prefix) check_scope_end(prefix, ctx()) end

local function event_error(e)
  return tostring(e)
end

-- entry(kind, name, args, opts, body) -> body's results, run once per run.
--   args: text that identifies the call (hashed; compared on replay)
--   opts.scope: entries made by body are keyed under this entry's key
--   opts.durable: commit the started row before body runs (default true)
--   opts.idempotent: false -> found in flight after a crash, it waits for an
--     operator (needs_attention) instead of running again
--   opts.stored(prev): the text to store as the entry's args (default args)
--   body(prev, stored, key)
function M.entry(kind, name, args, opts, body)
  local c = ctx()
  c.n = c.n + 1
  local key = J.child(c.prefix, c.n)
  local hash = J.hash(args)
  local prev = entries[key]
  local attempt, note = 1, nil
  local is_step = kind == "step"
  if prev then
    if prev.kind ~= kind or prev.name ~= name or prev.hash ~= hash then
      divergence(key, prev, kind, name, args,
        "the code asks for something other than what the journal recorded")
    end
    local st = prev.state
    if st == "completed" or st == "skipped" then
      if is_step then
        out.emit("step.replayed", { key = key, name = name, attempt = prev.attempt })
      end
      return J.results(prev.result)
    end
    attempt = prev.attempt + 1
    if st == "failed" then
      if not retry[key] then
        error(errors.restore(json.decode(prev.error)), 0)
      end
      note = "retry: the run failed here and was resumed"
    elseif decision and decision.key == key then
      if decision.action == "skip" then
        J.skip(key, prev.attempt, kind, name, "skipped by " .. decision.by)
        if is_step then out.emit("step.skipped", { key = key, name = name }) end
        return
      end
      note = "retry: chosen by " .. decision.by .. " after a crash"
    elseif opts.idempotent == false then
      T.halt({ status = "needs_attention", key = key, kind = kind, name = name,
               attempt = prev.attempt, site = prev.site or M.site() })
    else
      note = "recovered: in flight at a crash"
      out.emit("step.recovered", { key = key, kind = kind, name = name, attempt = attempt })
    end
  elseif on_first_new then
    local f = on_first_new
    on_first_new = nil
    f()
  end

  local stored = opts.stored and opts.stored(prev) or args
  J.start(key, attempt, kind, name, hash, stored, M.site(), note, opts.durable ~= false)
  if is_step then out.emit("step.started", { key = key, name = name, attempt = attempt }) end
  local t0 = T.now_ms()
  local saved_prefix, saved_n = c.prefix, c.n
  if opts.scope then c.prefix, c.n = key, 0 end
  local r = pack(pcall(body, prev, stored, key))
  if opts.scope then
    if r[1] then check_scope_end(key, c) end
    c.prefix, c.n = saved_prefix, saved_n
  end
  local ms = T.now_ms() - t0
  if r[1] then
    local ok, why = J.complete(key, attempt, kind, name, r, 2, r.n)
    if ok then
      if is_step then
        out.emit("step.completed", { key = key, name = name, attempt = attempt, duration_ms = ms })
      end
      return unpack(r, 2, r.n)
    end
    r[2] = errors.new("EBADRESULT", string.format(
      "%s '%s' returned %s; results must be JSON-serialisable "
      .. "(tables, strings, numbers, booleans)", kind, name, why))
  end
  local e = errors.normalize(r[2])
  if e.key == nil then e.key = key end  -- the innermost entry that failed
  J.fail(key, attempt, kind, name, e)
  if is_step then
    out.emit("step.failed", { key = key, name = name, attempt = attempt,
                              duration_ms = ms, error = event_error(e) })
  end
  error(e, 0)
end

-- The root task: runs the runbook and returns its outcome for the engine.
function M.main(def, params)
  local c = ctx()
  local r = pack(pcall(def.run, params))
  if r[1] then
    check_scope_end("", c)
    local result = r[2]
    if not pcall(json.encode, result) then result = nil end
    return { status = "succeeded", result = result }
  end
  local e = errors.normalize(r[2])
  return { status = "failed", error = e, key = e.key }
end

return M
