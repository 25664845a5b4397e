-- What an attempt of a journaled entry does, decided from the journal row
-- and the options alone: replay a result, replay a recorded error, run
-- attempt N, stop as needs_attention, skip, cancel. Pure: no journal, no
-- events, no clock; summit.engine carries the decision out (DESIGN §3-4),
-- and tests/lua/unit/test_decide.lua checks every row of the table.
local M = {}

-- The plans of the common cases, shared (plans are never changed by
-- their users): most entries of a resumed run are replays, most of a new
-- run are new.
local REPLAY = { action = "replay" }
local REPLAY_UNDO = { action = "replay", undo = true }
local NEW = { action = "run", attempt = 1, keep_wake = true }

-- entry(prev, key, kind, name, hash, opts, scope, run) -> plan, for one
-- call of engine.entry:
--   prev   the journal's newest row for the call's key (nil: not in the
--          journal)
--   key, kind, name, hash, opts: the call the code makes (opts: the
--          entry's options, see engine.entry)
--   scope  the enclosing scope: { retrying, guard, approved }
--   run    what holds for the whole run:
--            decision        what an operator chose at summit resume of a
--                            needs_attention run: { key, action, by } or nil
--            failed_path     set of the keys on the path of the error the
--                            resumed run failed with (they run again)
--            redact(name)    the name as the journal would hold it (a step
--                            named after a secret is journaled masked)
--            cancelling()    nil, "cancelling" or "undoing" (T.cancelling)
-- The call comes as arguments, not a table: most entries of a resumed
-- run are replays, and deciding one allocates nothing.
-- plan.action is one of
--   "diverged"          the code asks for something else than the journal
--                       recorded (plan.why)
--   "replay"            return the journaled result (plan.undo: register
--                       the step's undo again)
--   "cancel_in_flight"  cancelled while this was in flight: fail it with
--                       ECANCELED, recorded
--   "skip"              an operator skipped it: journal it as skipped
--   "raise_recorded"    it failed and is not to run again: raise its error
--   "needs_attention"   an effect of an idempotent = false step (plan.guard:
--                       that step) may or may not have happened: stop
--   "cancelled"         the run is being cancelled: nothing new starts
--   "run"               run the body as plan.attempt
-- and for "run" (and "cancelled", which could have run):
--   attempt, note       the attempt's number and the journal's note on it
--   resumed             carry on with the attempt in flight (no new row)
--   recovered           it was in flight at a crash (step.recovered)
--   fresh_try           a step with retries starts its next try
--   keep_wake           a backoff wait the journal holds is waited out
function M.entry(prev, key, kind, name, hash, opts, scope, run)
  local decision = run.decision
  if not prev then
    if run.cancelling() == "cancelling" then return { action = "cancelled", attempt = 1 } end
    return NEW
  end
  -- nocall: the journal kept no started row of this key (only an outcome
  -- written after its transaction was lost), so it knows no arguments.
  if prev.kind ~= kind or (prev.name ~= name and prev.name ~= run.redact(name))
      or (prev.hash ~= hash and not prev.nocall) then
    return { action = "diverged",
             why = "the code asks for something other than what the journal recorded" }
  end
  local st = prev.state
  if st == "completed" and opts.rerun_completed then
    -- Its result was not stored (only a hash): the code that reaches it
    -- again gets it again (docs/secrets.md).
    st = "rerun"
  end
  if st == "completed" then return opts.undo ~= nil and REPLAY_UNDO or REPLAY end
  if st == "skipped" then return REPLAY end
  local cancelling = run.cancelling() == "cancelling"
  -- Cancelled while this was in flight: it ends here, recorded. A scope
  -- without retries is re-entered instead: the cancellation reaches what
  -- it holds.
  if st == "started" and cancelling and not (opts.scope and not opts.retries) then
    return { action = "cancel_in_flight" }
  end
  local decided = decision and decision.key == key
  if decided and decision.action == "skip" then return { action = "skip" } end
  local p
  if st == "rerun" then
    p = { attempt = prev.attempt + 1, keep_wake = true,
          note = "run again: its result is secret and was not stored" }
  elseif st == "failed" then
    if not (run.failed_path[key] or scope.retrying or (decided and decision.action == "retry")) then
      return { action = "raise_recorded" }
    end
    p = { attempt = prev.attempt + 1 }
    if decided then
      p.fresh_try = true   -- a human chose a fresh try
      p.note = "retry: chosen by " .. decision.by
    else
      p.note = "retry: the run failed here and was resumed"
    end
  elseif opts.effect then
    -- In flight at a crash: the effect may or may not have happened.
    local guard = opts.idempotent == false and { key = key, name = name, site = prev.site }
      or scope.guard
    local approved = decision and decision.action == "retry"
      and (decision.key == nil or decision.key == key or scope.approved)
    if guard and not approved then return { action = "needs_attention", guard = guard } end
    p = { attempt = prev.attempt + 1, keep_wake = true, recovered = true,
          note = approved and ("retry: chosen by " .. decision.by .. " after a crash")
            or "recovered: in flight at a crash" }
  else
    -- A scope or a wait that was in progress (a crash, an interrupt, a
    -- suspension): carry on with the same attempt.
    return { action = "run", attempt = prev.attempt, resumed = true, keep_wake = true }
  end
  p.action = cancelling and "cancelled" or "run"
  return p
end

-- retryable(e): an error a step's retries may try again.
function M.retryable(e)
  return e.retryable ~= false and e.code ~= "EBADRESULT" and e.code ~= "ECANCELED"
end

-- failure(e, try, opts, cancelling) -> what follows try number `try` of an
-- entry failing with e: "retry" (after a backoff), "pause" (retries
-- exhausted, on_exhausted = "pause": needs_attention) or "raise".
function M.failure(e, try, opts, cancelling)
  if not opts.retries or not M.retryable(e) or cancelling then return "raise" end
  if try <= opts.retries then return "retry" end
  if opts.on_exhausted == "pause" then return "pause" end
  return "raise"
end

return M
