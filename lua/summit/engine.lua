-- Journaled execution: deterministic keys, replay, divergence detection and
-- crash recovery. Every journaled call of a runbook goes through M.entry;
-- the C scheduler runs the coroutines (DESIGN §3-4).
local J = require("summit.c.journal")
local T = require("summit.c.task")
local out = require("summit.c.out")
local json = require("summit.json")
local errors = require("summit.errors")
local S = require("summit.c.secrets")
local D = require("summit.decide")

local M = {}

local entries = {}     -- key -> newest journal row, as loaded at start
local siblings = {}    -- prefix -> highest counter the journal holds there
local decision         -- { key, action = "retry"|"skip", by } for needs_attention
-- What summit.decide knows of the whole run (decide.entry's `run`).
local this_run = { failed_path = {}, redact = S.redact, cancelling = T.cancelling }
local on_first_new     -- called once before the first entry not in the journal
local ctxs = setmetatable({}, { __mode = "k" })  -- coroutine -> { prefix, n }
local undos = {}       -- completed steps with an undo: { seq, key, name, fn, results }
local failed_at = {}   -- key -> the attempt that failed in this process

local pack = require("summit.util").pack

-- Things to stop before the loop closes (an in-process simulated
-- cluster): called once by the engine when the run's process ends.
local exit_hooks = {}
function M.at_exit(fn) exit_hooks[#exit_hooks + 1] = fn end
function M.shutdown()
  local hooks = exit_hooks
  exit_hooks = {}
  for i = #hooks, 1, -1 do pcall(hooks[i]) end
end

-- setup{ failed_key =, decision =, on_first_new = }: loads the journal.
function M.setup(o)
  entries = J.load()
  siblings = {}
  for key in pairs(entries) do
    local prefix, n = J.split(key)
    if prefix and (siblings[prefix] or 0) < n then siblings[prefix] = n end
  end
  -- The keys to run again: the path of a failed run's error.
  local failed_path = {}
  if o.failed_key then
    for _, k in ipairs(J.ancestors(o.failed_key) or {}) do failed_path[k] = true end
  end
  decision = o.decision
  this_run.failed_path, this_run.decision = failed_path, decision
  on_first_new = o.on_first_new
  undos = {}
  failed_at = {}
end

-- The attempt of entry key's newest failure: the one made in this process,
-- else the journal's (an error replayed from it).
function M.failed_attempt(key)
  if failed_at[key] then return failed_at[key] end
  local prev = entries[key]
  return prev and prev.attempt
end


-- Raises the error of an interrupted wait: primitives return nil, code,
-- message when a deadline or a cancellation cut them off.
function M.check_wait(r, code, message)
  if r == nil and code then
    error(errors.new(code, message or code), 0)
  end
  return r
end

local BACKOFF = { initial = 1000, factor = 2, max = 100000, jitter = true }

-- The delay before try number `try` + 1 (ms): Temporal-like defaults,
-- exponential from 1 s, doubled each time, capped at 100 s, with jitter of
-- up to a fifth either way so retrying runs do not move in lockstep.
local function backoff_ms(b, try)
  b = b or BACKOFF
  local d = b.fixed and b.initial or math.min(b.max, b.initial * b.factor ^ (try - 1))
  if b.jitter then d = d * (0.8 + 0.4 * T.random_u32() / 4294967296) end
  return math.floor(d / T.time_scale())
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

-- The absolute deadline (ms) of the running scope, or nil (step timeouts).
function M.deadline() return ctx().deadline end

-- What a parallel branch inherits from the code that started it.
function M.scope_state()
  local c = ctx()
  return { guard = c.guard, approved = c.approved, deadline = c.deadline, retrying = c.retrying }
end

-- Starts the key path of a parallel branch in the running coroutine.
function M.enter_branch(prefix, from)
  ctxs[T.self()] = { prefix = prefix, n = 0, guard = from and from.guard,
                     approved = from and from.approved,
                     deadline = from and from.deadline,
                     retrying = from and from.retrying }
  T.set_deadline(from and from.deadline)
end

-- The engine's own code (lua/summit/, embedded as "@summit/x.lua") and
-- chunks it built; the stdlib's chunks are "@stdlib/summit/x.lua".
local function engine_src(src)
  return src:sub(1, 1) ~= "@" or src:sub(1, 8) == "@summit/" or src:sub(1, 12) == "@lua/summit/"
end
local function ours(src)
  return engine_src(src) or src:sub(1, 15) == "@stdlib/summit/"
end

-- The runbook line that made the current call: the innermost frame that is
-- not summit's own code. A runbook's `return step(...)` is a tail call that
-- leaves no frame; then fn (the function given to the call) tells where.
function M.site(fn)
  for level = 2, 40 do
    local info = debug.getinfo(level, "Sl")
    if not info then break end
    if info.currentline > 0 and not ours(info.source) then
      return info.source:sub(2) .. ":" .. info.currentline
    end
  end
  if type(fn) == "function" then
    local info = debug.getinfo(fn, "S")
    if info and not ours(info.source) then
      return info.source:sub(2) .. ":" .. info.linedefined
    end
  end
  return "?"
end

-- The line of the run's code (a runbook, a stdlib or team module) that
-- made the current call, when it is not the runbook's own line (M.site):
-- where a module asks for something else after an upgrade.
-- A module's `return api.step(...)` is a tail call that leaves no frame:
-- then the function given to the call (defined in the module) tells where.
local function module_site(site, fn)
  for level = 2, 40 do
    local info = debug.getinfo(level, "Sl")
    if not info then break end
    if info.currentline > 0 and not engine_src(info.source) then
      local here = info.source:sub(2) .. ":" .. info.currentline
      if here ~= site then return here end
      break
    end
  end
  if type(fn) == "function" then
    local info = debug.getinfo(fn, "S")
    local file = info and info.source:sub(2)
    if info and not engine_src(info.source) and file ~= site:match("^(.*):%d+$") then
      return file .. ":" .. info.linedefined
    end
  end
  return nil
end

-- True while the running path is still inside what the journal holds (log
-- lines are not printed twice when a resumed run replays).
function M.replaying()
  local c = ctx()
  return entries[J.child(c.prefix, c.n + 1)] ~= nil
end

-- journaled(key) -> true when the journal the run started with holds an
-- entry at key (summit.fleet: a target started before a crash is started
-- again, whatever its error budget says now).
function M.journaled(key) return entries[key] ~= nil end

local function divergence(key, prev, kind, name, args, why, fn)
  local site = M.site(fn)
  T.halt({
    status = "diverged", key = key, why = why,
    journal = { kind = prev.kind, name = prev.name, hash = prev.hash, site = prev.site },
    code = { kind = kind, name = name, hash = args and J.hash(args), site = site,
             module_site = module_site(site, fn) },
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

-- The carrying out of one engine.entry call works on a record `a`:
--   key, kind, name, hash, args, opts, body, prev: the call (see M.entry)
--   plan: what summit.decide chose for it
--   attempt, note, resumed, try, wake: the attempt being made (attempts below)
-- and c, the context of the calling coroutine.

-- Runs a.body in the entry's scope: child keys under `prefix`, the scope's
-- guard (nearest idempotent = false step), approval and deadline.
local function in_scope(a, c, prefix, site, deadline, stored)
  local opts, key = a.opts, a.key
  local saved = { c.prefix, c.n, c.guard, c.approved, c.deadline, c.retrying }
  if opts.scope then
    c.prefix, c.n = prefix, 0
    -- Running a failed step again: what failed inside it runs again too.
    if a.prev and a.prev.state == "failed" then c.retrying = true end
    if opts.idempotent == false then c.guard = { key = key, name = a.name, site = site } end
    if decision and decision.key == key and decision.action == "retry" then c.approved = true end
  end
  if deadline and (not c.deadline or deadline < c.deadline) then c.deadline = deadline end
  -- Lua that computes without waiting is held to it by the watchdog.
  T.set_deadline(c.deadline)
  local r = pack(pcall(a.body, a.prev, stored, key))
  if opts.scope and r[1] then check_scope_end(prefix, c) end
  c.prefix, c.n, c.guard, c.approved, c.deadline, c.retrying =
    saved[1], saved[2], saved[3], saved[4], saved[5], saved[6]
  T.set_deadline(c.deadline)
  return r
end

-- Records attempt `a.attempt` as completed with body's results r (from
-- r[2]). Returns what the caller gets (from [2] too), or nil and why the
-- results cannot be journaled.
local function complete(a, r, ms)
  local opts = a.opts
  local keep = r
  if opts.secret_result then keep = pack(true, opts.secret_result(unpack(r, 2, r.n))) end
  local stored_r = pack(J.complete(a.key, a.attempt, a.kind, a.name, keep, 2, keep.n))
  local seq, why = stored_r[1], stored_r[2]
  if not seq then return nil, why end
  -- A scope that committed nothing while it ran (pure Lua) commits now,
  -- its started and completed rows together: one commit per step, shared
  -- with the branches that end in the same turn.
  if opts.lazy and J.commits() == a.commits then J.sync() end
  if a.kind == "step" then
    out.emit("step.completed", { key = a.key, name = a.name, attempt = a.attempt, duration_ms = ms })
  end
  if opts.undo then
    undos[#undos + 1] = { seq = seq, key = a.key, name = a.name, fn = opts.undo,
                          results = pack(unpack(stored_r, 2, stored_r.n)) }
  end
  -- A secret result is the caller's, live; the journal has its hash.
  if opts.secret_result then return r end
  return stored_r
end

-- Records the failure of attempt `a.attempt` with error value err and
-- returns it normalised.
local function fail(a, err, ms)
  local e = errors.normalize(err)
  if e.key == nil then e.key = a.key end  -- the innermost entry that failed
  J.fail(a.key, a.attempt, a.kind, a.name, e)
  failed_at[a.key] = a.attempt
  if a.kind == "step" then
    out.emit("step.failed", { key = a.key, name = a.name, attempt = a.attempt,
                              duration_ms = ms, error = tostring(e) })
  end
  return e
end

-- Runs one attempt: journals it as started (unless it carries on with
-- one in flight), waits out a journaled backoff, then runs body.
local function attempt_once(a, c, site)
  local opts, key = a.opts, a.key
  local stored
  if opts.retries then
    stored = json.encode({ try = a.try, wake = a.wake })
  else
    stored = opts.stored and opts.stored(a.prev) or a.args
  end
  if not a.resumed then
    -- A scope's started row (opts.lazy) waits for the next commit: the
    -- first effect or wait inside it, or its end (complete). An effect's
    -- row is committed now, in one commit with the rows of every task
    -- that starts in this loop turn; a cancel can cut that wait short.
    local durable = opts.durable ~= false and not opts.lazy
    local before = J.commits()
    local _, code, msg = J.start(key, a.attempt, a.kind, a.name, a.hash, stored, site,
      a.note, durable)
    if code then return { false, errors.new(code, msg), n = 2 } end
    -- Woken after the group commit: it must have happened (a commit the
    -- store refused leaves the count unchanged); the effect must not start.
    if durable and J.commits() == before then
      error(string.format("writing the journal: the commit before %s '%s' (%s) failed",
        a.kind, a.name, key), 0)
    end
  end
  a.commits = J.commits()
  if a.kind == "step" then
    out.emit("step.started", { key = key, name = a.name, attempt = a.attempt,
                               resumed = a.resumed or nil })
  end
  if a.wake and a.wake > T.now_ms() then
    -- Waiting out a retry's backoff (durable: the wake time is journaled).
    out.emit("wait.started", { key = key, kind = "backoff" })
    local w, code, msg = T.sleep_until(a.wake, c.deadline)
    if w == nil and code then return { false, errors.new(code, msg), n = 2 } end
  end
  local deadline = opts.timeout_ms and (T.now_ms() + opts.timeout_ms)
  local prefix = a.try > 1 and (key .. "~" .. a.try) or key
  return in_scope(a, c, prefix, site, deadline, stored)
end

-- Runs the attempts a plan of action "run" starts with, and the retries
-- that follow a failure, until one completes (its results are returned)
-- or the entry fails for good (raised) or pauses (needs_attention).
local function attempts(a, c)
  local opts = a.opts
  a.try, a.wake = 1, nil     -- retried steps: which try, and its backoff
  if opts.retries and a.prev and a.prev.args and a.prev.args ~= "" then
    local j = json.decode(a.prev.args)
    a.try, a.wake = j.try or 1, j.wake
  end
  if a.plan.fresh_try then a.try = a.try + 1 end
  if not a.plan.keep_wake then a.wake = nil end
  a.attempt, a.note, a.resumed = a.plan.attempt, a.plan.note, a.plan.resumed or false
  local site = M.site(opts.fn)
  local t0 = T.now_ms()
  while true do
    local r = attempt_once(a, c, site)
    local ms = T.now_ms() - t0
    if r[1] then
      local done, why = complete(a, r, ms)
      if done then return unpack(done, 2, done.n) end
      r[2] = errors.new("EBADRESULT", string.format(
        "%s '%s' returned %s; results must be JSON-serialisable "
        .. "(tables, strings, numbers, booleans)", a.kind, a.name, why))
    end
    -- Interrupted while it ran: left as in flight (not failed), as a run
    -- interrupted at a wait leaves it, so summit resume carries on.
    if T.stopping() then error(r[2], 0) end
    local e = fail(a, r[2], ms)
    local after = D.failure(e, a.try, opts, T.cancelling())
    if after == "retry" then
      local delay = backoff_ms(opts.backoff, a.try)
      a.try, a.attempt, a.resumed = a.try + 1, a.attempt + 1, false
      a.wake = T.now_ms() + delay
      a.note = string.format("retry %d of %d in %d ms after: %s", a.try - 1, opts.retries,
        delay, e.message)
      out.emit("step.retrying", { key = a.key, name = a.name, attempt = a.attempt,
                                  delay_ms = delay, error = tostring(e) })
    elseif after == "pause" then
      T.halt({ status = "needs_attention", key = a.key, name = a.name, site = site,
               exhausted = true, error = e })
    else
      error(e, 0)
    end
  end
end

-- A replay: the journaled result, and the step's undo registered again.
local function replay(key, kind, name, opts, prev, undo)
  if kind == "step" then
    out.emit("step.replayed", { key = key, name = name, attempt = prev.attempt })
  end
  if undo then
    undos[#undos + 1] = { seq = prev.seq, key = key, name = name, fn = opts.undo,
                          results = pack(J.results(prev.result)) }
  end
  return J.results(prev.result)
end

-- How each other action of decide.entry is carried out:
-- (a, c) -> the entry's results.
local carry_out = {}

function carry_out.diverged(a)
  divergence(a.key, a.prev, a.kind, a.name, a.args, a.plan.why, a.opts.fn)
end

function carry_out.cancel_in_flight(a)
  local e = errors.new("ECANCELED", "the run was cancelled", { key = a.key })
  J.fail(a.key, a.prev.attempt, a.kind, a.name, e)
  error(e, 0)
end

function carry_out.skip(a)
  J.skip(a.key, a.prev.attempt, a.kind, a.name, "skipped by " .. decision.by)
  out.emit("step.skipped", { key = a.key, name = a.name, attempt = a.prev.attempt })
  if a.opts.on_skip then return a.opts.on_skip() end
end

function carry_out.raise_recorded(a)
  error(errors.restore(json.decode(a.prev.error)), 0)
end

function carry_out.needs_attention(a)
  local g = a.plan.guard
  T.halt({ status = "needs_attention", key = g.key, name = g.name, site = g.site, inner = a.key })
end

local function recovered(a)
  out.emit("step.recovered", { key = a.key, kind = a.kind, name = a.name,
                               attempt = a.plan.attempt })
end

function carry_out.cancelled(a)
  if a.plan.recovered then recovered(a) end
  error(errors.new("ECANCELED", "the run was cancelled"), 0)
end

function carry_out.run(a, c)
  if a.plan.recovered then recovered(a) end
  return attempts(a, c)
end

-- entry(kind, name, args, opts, body) -> body's results, run once per run.
--   args: text that identifies the call (hashed; compared on replay)
--   opts.scope: entries made by body are keyed under this entry's key; a
--     scope found in flight is re-entered (its finished children replay)
--   opts.effect: the body acts on the outside world; found in flight after
--     a crash it runs again as attempt N+1, unless it or an enclosing step
--     is idempotent = false: then the run stops as needs_attention
--   opts.idempotent: false -> see above
--   opts.durable: commit the started row before body runs (default true)
--   opts.lazy: a scope with no effect of its own (step, parallel): its
--     started row rides with the next commit -- the first effect or wait
--     in body, or the entry's end -- so a step that runs one exec costs
--     one commit, not two (docs/journal.md "Durability and commits")
--   opts.stored(prev): the text to store as the entry's args (default args)
--   opts.on_skip(): the result of an entry an operator skipped
--   opts.secret_result(results...) -> what the journal keeps instead of
--     the results (masked, or a hash); the caller gets the real ones
--   opts.rerun_completed: a completed entry is not replayed but runs
--     again (its result was not stored)
--   opts.retries, opts.backoff, opts.timeout_ms, opts.on_exhausted,
--   opts.undo: steps only (see api.step)
--   body(prev, stored, key)
-- What this call does is decided by summit.decide from the journal row
-- and the options; the functions above carry it out.
function M.entry(kind, name, args, opts, body)
  -- Interrupted (a signal): nothing new starts; what is in flight stays
  -- in flight for summit resume.
  if T.stopping() then error(errors.new("EINTR", "the run was interrupted"), 0) end
  local c = ctx()
  c.n = c.n + 1
  local key = J.child(c.prefix, c.n)
  local hash = J.hash(args)
  local prev = entries[key]
  if not prev and on_first_new then
    local f = on_first_new
    on_first_new = nil
    f()
  end
  local plan = D.entry(prev, key, kind, name, hash, opts, c, this_run)
  -- The common case of a resumed run needs no record of the call.
  if plan.action == "replay" then return replay(key, kind, name, opts, prev, plan.undo) end
  return carry_out[plan.action]({ key = key, kind = kind, name = name, hash = hash, args = args,
    opts = opts, body = body, prev = prev, plan = plan }, c)
end

-- Runs the undo functions of completed steps, newest completion first, as
-- steps of their own. Returns true, or false and the first undo's error.
local function run_undos()
  table.sort(undos, function(a, b) return a.seq > b.seq end)
  local list = undos
  undos = {}
  for _, u in ipairs(list) do
    local ok, err = pcall(M.entry, "step", "undo " .. u.name, u.key, { scope = true, lazy = true },
      function() return u.fn(unpack(u.results, 1, u.results.n)) end)
    if not ok then return false, errors.normalize(err) end
  end
  return true, #list
end

-- entry_at(prefix, n, ...) -> M.entry(...) keyed prefix/n+1, outside the
-- code's own key sequence and guard: for entries the engine makes on its
-- own (notifications at the end of a run or when a gate opens), which a
-- resumed run must find again but which must not shift the keys of what
-- the runbook does next.
function M.entry_at(prefix, n, kind, name, args, opts, body)
  local c = ctx()
  local saved = { c.prefix, c.n, c.guard }
  c.prefix, c.n, c.guard = prefix, n, nil
  local r = pack(pcall(M.entry, kind, name, args, opts, body))
  c.prefix, c.n, c.guard = saved[1], saved[2], saved[3]
  if not r[1] then error(r[2], 0) end
  return unpack(r, 2, r.n)
end

-- Functions called with (outcome, def) when the runbook has finished,
-- in the root task, before the engine records the outcome (automatic
-- notifications): they may make journaled entries; their errors are
-- ignored.
local end_hooks = {}
function M.on_end(fn) end_hooks[#end_hooks + 1] = fn end

-- The root task: runs the runbook and returns its outcome for the engine.
-- A failure (or a cancel with --rollback) runs the registered undos.
local function main(def, params)
  local c = ctx()
  local r = pack(pcall(def.run, params))
  if r[1] then
    check_scope_end("", c)
    local result = r[2]
    if not pcall(json.encode, result) then result = nil end
    return { status = "succeeded", result = result }
  end
  if T.stopping() then return { status = "interrupted" } end
  local e = errors.normalize(r[2])
  local cancelling, rollback = T.cancelling()
  local status = cancelling and "cancelled" or "failed"
  if cancelling and not rollback then
    return { status = status, error = e }
  end
  -- An error that leaves the run resumable as it is (an approval gate that
  -- timed out with on_timeout = "fail"): no undo.
  if e.no_undo and not cancelling then
    return { status = status, error = e, key = e.key }
  end
  T.begin_undo()
  local ok, undone = run_undos()
  if not ok then
    local both = errors.new(e.code, string.format("%s; then undo failed: %s",
      e.message, undone.message), { key = undone.key, undo_error = undone, where = e.where })
    return { status = "failed", error = both, key = undone.key }
  end
  if undone > 0 then
    return { status = "rolled_back", error = e, undone = undone, cancelled = cancelling ~= nil }
  end
  return { status = status, error = e, key = e.key }
end

function M.main(def, params)
  M.def = def
  local outcome = main(def, params)
  if T.stopping() then return outcome end
  for _, fn in ipairs(end_hooks) do pcall(fn, outcome, def) end
  return outcome
end

return M
