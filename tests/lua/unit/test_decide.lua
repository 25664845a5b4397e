-- The decision table of summit.decide (lua/summit/decide.lua): what an
-- attempt of a journaled entry does, given its journal row and options.
-- Plain LuaJIT, no runtime: `luajit tests/lua/unit/test_decide.lua`.
-- The shell tests (test_resume, test_retry, test_needs_attention,
-- test_cancel, ...) check the same rows through whole runs.
local here = arg and arg[0] and arg[0]:match("^(.*)/[^/]*$") or "."
package.path = here .. "/../../../lua/?.lua;" .. package.path
local D = require("summit.decide")

local failures, count = 0, 0

-- A plan as text, false and nil alike, keys sorted: rows compare whole.
local function show(t)
  if type(t) ~= "table" then return tostring(t) end
  local keys = {}
  for k, v in pairs(t) do if v ~= false then keys[#keys + 1] = k end end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do
    local v = t[k]
    parts[#parts + 1] = k .. "=" .. (type(v) == "string" and string.format("%q", v) or show(v))
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end

local function check(what, got, want)
  count = count + 1
  if show(got) ~= show(want) then
    failures = failures + 1
    io.stderr:write(string.format("FAIL %s\n  want %s\n  got  %s\n", what, show(want), show(got)))
  end
end

-- The journal holds a step named after a secret with the secret masked.
local function redact(s) return (s:gsub("hunter2", "***")) end

local KEY = "0.3"
local function row(state, t)
  local r = { kind = "step", name = "deploy", hash = "h1", state = state, attempt = 2,
              site = "deploy.lua:7" }
  for k, v in pairs(t or {}) do r[k] = v end
  return r
end

-- q(t): the arguments of decide.entry for a call of step "deploy" at
-- KEY; t overrides prev, kind, name, hash, opts, and gives the scope and
-- the run's facts: decision, on_failed_path (KEY is on it), cancelling,
-- redact.
local function q(t)
  local run = { decision = t.decision, failed_path = { [KEY] = t.on_failed_path },
                redact = t.redact or redact, cancelling = function() return t.cancelling end }
  return { t.prev, KEY, t.kind or "step", t.name or "deploy", t.hash or "h1",
           t.opts or { scope = true }, t.scope or {}, run }
end

local EFFECT = { effect = true }
local NOT_IDEMPOTENT = { effect = true, idempotent = false }
local RETRIES = { scope = true, retries = 3 }
local GUARD = { key = "0.1", name = "migrate", site = "deploy.lua:3" }
local function chosen(action, key) return { key = key, action = action, by = "alice" } end

local RECOVERED = "recovered: in flight at a crash"
local RESUMED = "retry: the run failed here and was resumed"

local rows = {
  -- ---- not in the journal: a new entry
  { "new entry runs as attempt 1", q{},
    { action = "run", attempt = 1, keep_wake = true } },
  { "new entry while cancelling starts nothing", q{ cancelling = "cancelling" },
    { action = "cancelled", attempt = 1 } },
  { "new entry while undoing runs (undo steps are new entries)", q{ cancelling = "undoing" },
    { action = "run", attempt = 1, keep_wake = true } },

  -- ---- divergence: the code asks for something else
  { "another kind diverges", q{ kind = "exec", prev = row("completed") },
    { action = "diverged",
      why = "the code asks for something other than what the journal recorded" } },
  { "another name diverges", q{ name = "deploy2", prev = row("completed") },
    { action = "diverged",
      why = "the code asks for something other than what the journal recorded" } },
  { "other arguments (hash) diverge", q{ hash = "h2", prev = row("completed") },
    { action = "diverged",
      why = "the code asks for something other than what the journal recorded" } },
  { "a name journaled with its secret masked is the same call",
    q{ name = "deploy hunter2", prev = row("completed", { name = "deploy ***" }) },
    { action = "replay" } },
  { "a failure kept without its started row (nocall) knows no arguments to compare",
    q{ hash = "h2", prev = row("failed", { hash = false, site = false, nocall = true }) },
    { action = "raise_recorded" } },
  { "nocall still compares the kind and the name",
    q{ name = "deploy2", prev = row("failed", { hash = false, nocall = true }) },
    { action = "diverged",
      why = "the code asks for something other than what the journal recorded" } },
  { "divergence is found before a cancellation",
    q{ hash = "h2", prev = row("started"), cancelling = "cancelling" },
    { action = "diverged",
      why = "the code asks for something other than what the journal recorded" } },

  -- ---- completed and skipped: replayed
  { "completed replays its result", q{ prev = row("completed") }, { action = "replay" } },
  { "completed with an undo registers it again",
    q{ prev = row("completed"), opts = { scope = true, undo = print } },
    { action = "replay", undo = true } },
  { "skipped replays, with no undo to register",
    q{ prev = row("skipped"), opts = { scope = true, undo = print } }, { action = "replay" } },
  { "completed replays even while cancelling",
    q{ prev = row("completed"), cancelling = "cancelling" }, { action = "replay" } },
  { "completed replays even if an operator chose to skip it",
    q{ prev = row("completed"), decision = chosen("skip", KEY) }, { action = "replay" } },
  { "completed with a secret (unstored) result runs again",
    q{ prev = row("completed"), opts = { scope = true, rerun_completed = true } },
    { action = "run", attempt = 3, keep_wake = true,
      note = "run again: its result is secret and was not stored" } },
  { "a secret result to run again while cancelling: cancelled",
    q{ prev = row("completed"), opts = { scope = true, rerun_completed = true },
       cancelling = "cancelling" },
    { action = "cancelled", attempt = 3, keep_wake = true,
      note = "run again: its result is secret and was not stored" } },

  -- ---- in flight while the run is cancelled
  { "an effect in flight while cancelling fails as cancelled",
    q{ prev = row("started"), opts = EFFECT, cancelling = "cancelling" },
    { action = "cancel_in_flight" } },
  { "a step in flight while cancelling is re-entered (its children cancel)",
    q{ prev = row("started"), cancelling = "cancelling" },
    { action = "run", attempt = 2, resumed = true, keep_wake = true } },
  { "a step with retries in flight (mid-retry) while cancelling fails as cancelled",
    q{ prev = row("started"), opts = RETRIES, cancelling = "cancelling" },
    { action = "cancel_in_flight" } },
  { "a wait in flight while undoing carries on",
    q{ prev = row("started", { kind = "sleep", name = "sleep" }), kind = "sleep", name = "sleep",
       opts = {}, cancelling = "undoing" },
    { action = "run", attempt = 2, resumed = true, keep_wake = true } },
  { "a scope that is an effect, in flight while cancelling: recovered, then cancelled",
    q{ prev = row("started"), opts = { scope = true, effect = true }, cancelling = "cancelling" },
    { action = "cancelled", attempt = 3, keep_wake = true, recovered = true, note = RECOVERED } },
  { "the cancellation wins over an operator's skip",
    q{ prev = row("started"), opts = EFFECT, cancelling = "cancelling",
       decision = chosen("skip", KEY) },
    { action = "cancel_in_flight" } },

  -- ---- an operator's skip (summit resume --skip of a needs_attention run)
  { "skip chosen for this entry", q{ prev = row("started"), opts = NOT_IDEMPOTENT,
                                     decision = chosen("skip", KEY) },
    { action = "skip" } },
  { "skip chosen for a failed entry", q{ prev = row("failed"), decision = chosen("skip", KEY) },
    { action = "skip" } },
  { "skip chosen for another entry does not skip this one",
    q{ prev = row("started"), opts = NOT_IDEMPOTENT, decision = chosen("skip", "0.9") },
    { action = "needs_attention", guard = { key = KEY, name = "deploy", site = "deploy.lua:7" } } },

  -- ---- failed
  { "a failure off the resumed path replays its error", q{ prev = row("failed") },
    { action = "raise_recorded" } },
  { "a failure on the failed path runs again",
    q{ prev = row("failed"), on_failed_path = true },
    { action = "run", attempt = 3, note = RESUMED } },
  { "a failure inside a step that runs again runs again",
    q{ prev = row("failed"), scope = { retrying = true } },
    { action = "run", attempt = 3, note = RESUMED } },
  { "a failure an operator chose to retry starts a fresh try",
    q{ prev = row("failed"), decision = chosen("retry", KEY) },
    { action = "run", attempt = 3, fresh_try = true, note = "retry: chosen by alice" } },
  { "a retry chosen for another entry replays this one's error",
    q{ prev = row("failed"), decision = chosen("retry", "0.9") },
    { action = "raise_recorded" } },
  { "a failure on the failed path while cancelling: cancelled",
    q{ prev = row("failed"), on_failed_path = true, cancelling = "cancelling" },
    { action = "cancelled", attempt = 3, note = RESUMED } },
  { "a failure replays its error even while cancelling",
    q{ prev = row("failed"), cancelling = "cancelling" }, { action = "raise_recorded" } },

  -- ---- an effect in flight at a crash
  { "an idempotent effect runs again as the next attempt",
    q{ prev = row("started"), opts = EFFECT },
    { action = "run", attempt = 3, keep_wake = true, recovered = true, note = RECOVERED } },
  { "started without outcome and idempotent = false: needs_attention",
    q{ prev = row("started"), opts = NOT_IDEMPOTENT },
    { action = "needs_attention", guard = { key = KEY, name = "deploy", site = "deploy.lua:7" } } },
  { "an effect inside an idempotent = false step: needs_attention naming that step",
    q{ prev = row("started"), opts = EFFECT, scope = { guard = GUARD } },
    { action = "needs_attention", guard = GUARD } },
  { "retry chosen for the run (no key) approves it",
    q{ prev = row("started"), opts = NOT_IDEMPOTENT, decision = chosen("retry") },
    { action = "run", attempt = 3, keep_wake = true, recovered = true,
      note = "retry: chosen by alice after a crash" } },
  { "retry chosen for this entry approves it",
    q{ prev = row("started"), opts = NOT_IDEMPOTENT, decision = chosen("retry", KEY) },
    { action = "run", attempt = 3, keep_wake = true, recovered = true,
      note = "retry: chosen by alice after a crash" } },
  { "retry chosen for the enclosing step approves what is inside it",
    q{ prev = row("started"), opts = EFFECT, decision = chosen("retry", GUARD.key),
       scope = { guard = GUARD, approved = true } },
    { action = "run", attempt = 3, keep_wake = true, recovered = true,
      note = "retry: chosen by alice after a crash" } },
  { "retry chosen for another entry does not approve this one",
    q{ prev = row("started"), opts = NOT_IDEMPOTENT, decision = chosen("retry", "0.9") },
    { action = "needs_attention", guard = { key = KEY, name = "deploy", site = "deploy.lua:7" } } },
  { "an unguarded effect recovered with a retry chosen is noted as chosen",
    q{ prev = row("started"), opts = EFFECT, decision = chosen("retry") },
    { action = "run", attempt = 3, keep_wake = true, recovered = true,
      note = "retry: chosen by alice after a crash" } },
  { "an effect in flight while undoing runs again",
    q{ prev = row("started"), opts = EFFECT, cancelling = "undoing" },
    { action = "run", attempt = 3, keep_wake = true, recovered = true, note = RECOVERED } },
  { "a guarded effect needs attention while undoing too",
    q{ prev = row("started"), opts = NOT_IDEMPOTENT, cancelling = "undoing" },
    { action = "needs_attention", guard = { key = KEY, name = "deploy", site = "deploy.lua:7" } } },

  -- ---- a scope or a wait in progress: carried on
  { "a step in flight carries on with its attempt", q{ prev = row("started") },
    { action = "run", attempt = 2, resumed = true, keep_wake = true } },
  { "a step with retries in flight (in its backoff) carries on",
    q{ prev = row("started"), opts = RETRIES },
    { action = "run", attempt = 2, resumed = true, keep_wake = true } },
  { "an idempotent = false step itself (a scope) is re-entered",
    q{ prev = row("started"), opts = { scope = true, idempotent = false } },
    { action = "run", attempt = 2, resumed = true, keep_wake = true } },
}

for _, r in ipairs(rows) do check(r[1], D.entry(unpack(r[2], 1, 8)), r[3]) end

-- The redaction is asked only when the names differ.
do
  local asked = 0
  local function counted(s) asked = asked + 1; return s end
  D.entry(unpack(q{ prev = row("completed"), redact = counted }, 1, 8))
  check("no redaction for an equal name", asked, 0)
end

-- ---- after a failed try: retry, pause (needs_attention) or raise
local function err(t)
  local e = { code = "EFAIL", message = "boom" }
  for k, v in pairs(t or {}) do e[k] = v end
  return e
end
local R2 = { retries = 2 }
local PAUSE = { retries = 2, on_exhausted = "pause" }
local after = {
  { "no retries: raise", err(), 1, { scope = true }, nil, "raise" },
  { "first try of two retries: retry", err(), 1, R2, nil, "retry" },
  { "last retry: retry", err(), 2, R2, nil, "retry" },
  { "retries exhausted: raise", err(), 3, R2, nil, "raise" },
  { "retries exhausted, on_exhausted = pause: pause", err(), 3, PAUSE, nil, "pause" },
  { "on_exhausted = pause with retries = 0: pause at once", err(), 1,
    { retries = 0, on_exhausted = "pause" }, nil, "pause" },
  { "retryable = false: raise", err{ retryable = false }, 1, R2, nil, "raise" },
  { "retryable = false is not paused on", err{ retryable = false }, 3, PAUSE, nil, "raise" },
  { "results not JSON (EBADRESULT): raise", err{ code = "EBADRESULT" }, 1, R2, nil, "raise" },
  { "ECANCELED: raise", err{ code = "ECANCELED" }, 1, R2, nil, "raise" },
  { "cancel requested mid-retry: raise", err(), 1, R2, "cancelling", "raise" },
  { "cancel requested when exhausted with pause: raise", err(), 3, PAUSE, "cancelling", "raise" },
  { "undoing: raise (an undo step is not retried)", err(), 1, R2, "undoing", "raise" },
}
for _, a in ipairs(after) do check(a[1], D.failure(a[2], a[3], a[4], a[5]), a[6]) end

check("retryable: a plain error", D.retryable(err()), true)
check("retryable: retryable = true", D.retryable(err{ retryable = true }), true)
check("retryable: retryable = false", D.retryable(err{ retryable = false }), false)

if failures > 0 then
  io.stderr:write(string.format("%d of %d checks failed\n", failures, count))
  os.exit(1)
end
print(string.format("test_decide: %d checks passed", count))
