-- Notifications (docs/notifications.md): webhooks to the channels named
-- in summit.lua's `notifications`, sent by notify() in a runbook and, by
-- the rules, when a run ends, when an approval gate opens and when a
-- schedule keeps failing.
--
-- Every notification is one journal entry (kind "notify", named after
-- its channel): a replay returns what happened, so nothing is sent twice
-- by a resumed run. A notification that cannot be delivered (after the
-- channel's retries) fails its entry with ENOTIFY -- the audit trail gets
-- notify.failed -- is logged as a warning, and never fails the run.
-- Webhook URLs carry tokens: they never reach the journal, the events,
-- the logs or the audit trail; channels are referred to by name.
--
-- Loaded on demand (most runs send nothing): by notify()'s first call,
-- by summit.config to check a notifications table, and at a run's end or
-- a gate's opening when summit.lua has rules (config.notification_rules).
local E = require("summit.engine")
local T = require("summit.c.task")
local H = require("summit.c.http")
local out = require("summit.c.out")
local json = require("summit.json")
local errors = require("summit.errors")
local redact = require("summit.redact")
local S = require("summit.c.secrets")
local C = require("summit.config")
local util = require("summit.util")
local argcheck = require("summit.args")

local M = {}

local FORMATS = { slack = true, generic = true }
local LEVELS = { info = true, warn = true, error = true }
M.EVENTS = {
  ["run.failed"] = true, ["run.succeeded"] = true, ["run.cancelled"] = true,
  ["run.finished"] = true, ["approval.requested"] = true,
  ["schedule.failing"] = true,
}
local TOP = { channels = "table", default = "string", rules = "table" }
local CHANNEL = {
  url = "string", url_env = "string", format = "string", headers = "table",
  retries = "number", backoff = "string|number", timeout = "string|number",
}
local RULE = { on = "string|table", channel = "string|table", env = "string|table",
               runbook = "string|table", after = "number" }
local MAX_RETRIES = 10

-- The defaults of a channel: 3 retries after the first try, 1 s before the
-- first retry, doubled each time up to 30 s; 10 s per try.
local DEFAULT = { retries = 3, backoff_ms = 1000, max_backoff_ms = 30000, timeout_ms = 10000 }

local function is(v, types)
  for t in types:gmatch("[^|]+") do
    if type(v) == t then return true end
  end
  return false
end

local duration_ok = argcheck.ms

-- A string or a list of strings, as a set; nil and a complaint otherwise.
local function set_of(v)
  if type(v) == "string" then return { [v] = true } end
  if type(v) ~= "table" or #v == 0 then return nil end
  local s = {}
  for k, x in pairs(v) do
    if type(k) ~= "number" or type(x) ~= "string" then return nil end
    s[x] = true
  end
  return s
end

-- problems(cfg) -> { { key =, message = } ... } for summit.lua's
-- notifications table (config.lua reports them with file:line).
function M.problems(cfg)
  local n = cfg.notifications
  local list = {}
  local function bad(key, fmt, ...)
    list[#list + 1] = { key = key, message = string.format(fmt, ...) }
  end
  if type(n) ~= "table" then return list end
  local function fields(where, t, schema)
    for k, v in pairs(t) do
      local want = schema[k]
      if not want then
        bad(k, "unknown key '%s' in %s (known: %s)", tostring(k), where, util.key_list(schema))
      elseif not is(v, want) then
        bad(k, "%s.%s must be a %s, not a %s", where, tostring(k),
          want:gsub("|", " or "), type(v))
      end
    end
  end
  fields("notifications", n, TOP)
  local chans = type(n.channels) == "table" and n.channels or {}
  for name, ch in pairs(chans) do
    local where = "notifications.channels." .. tostring(name)
    if type(name) ~= "string" or not name:match("^[%w_-]+$") then
      bad(name, "%s: a channel name is letters, digits, _ and - (it appears in journal keys)", where)
    elseif type(ch) ~= "table" then
      bad(name, "%s must be a table { url = ..., format = \"slack\" }", where)
    else
      fields(where, ch, CHANNEL)
      if ch.url == nil and ch.url_env == nil then
        bad(name, "%s needs url (the webhook URL) or url_env (the environment variable "
          .. "that holds it)", where)
      elseif ch.url ~= nil and ch.url_env ~= nil then
        bad("url_env", "%s: url and url_env are alternatives; give one", where)
      end
      if type(ch.url) == "string" and not ch.url:match("^https?://") then
        bad("url", "%s.url must be an http:// or https:// URL", where)
      end
      if type(ch.url_env) == "string" and not ch.url_env:match("^[%a_][%w_]*$") then
        bad("url_env", "%s.url_env must name an environment variable", where)
      end
      if type(ch.format) == "string" and not FORMATS[ch.format] then
        bad("format", "%s.format must be \"slack\" or \"generic\", not \"%s\"", where, ch.format)
      end
      if type(ch.retries) == "number" and (ch.retries < 0 or ch.retries > MAX_RETRIES
          or ch.retries ~= math.floor(ch.retries)) then
        bad("retries", "%s.retries must be a whole number from 0 to %d", where, MAX_RETRIES)
      end
      for _, d in ipairs({ "backoff", "timeout" }) do
        if ch[d] ~= nil and is(ch[d], "string|number")
            and not (duration_ok(ch[d]) and duration_ok(ch[d]) > 0) then
          bad(d, "%s.%s must be a duration such as \"2s\" or 2", where, d)
        end
      end
      if type(ch.headers) == "table" then
        for k, v in pairs(ch.headers) do
          if type(k) ~= "string" or type(v) ~= "string" then
            bad("headers", "%s.headers must map header names to strings", where)
            break
          end
        end
      end
    end
  end
  if type(n.default) == "string" and not chans[n.default] then
    bad("default", "notifications.default names '%s', which is not in notifications.channels",
      n.default)
  end
  if type(n.rules) == "table" then
    for i, r in ipairs(n.rules) do
      local where = "notifications.rules[" .. i .. "]"
      if type(r) ~= "table" then
        bad("rules", "%s must be a table { on = \"run.failed\", channel = \"...\" }", where)
      else
        fields(where, r, RULE)
        local on = set_of(r.on)
        if not on then
          bad("on", "%s.on must be an event name or a list of them (%s)", where,
            util.key_list(M.EVENTS))
        else
          for ev in pairs(on) do
            if not M.EVENTS[ev] then
              bad("on", "%s.on: unknown event '%s' (known: %s)", where, ev, util.key_list(M.EVENTS))
            end
          end
        end
        local chs = r.channel == nil and (n.default and { [n.default] = true }) or set_of(r.channel)
        if not chs then
          bad("channel", "%s.channel must name a channel or list channels%s", where,
            r.channel == nil and " (there is no notifications.default)" or "")
        else
          for ch in pairs(chs) do
            if not chans[ch] then
              bad("channel", "%s.channel names '%s', which is not in notifications.channels",
                where, ch)
            end
          end
        end
        for _, f in ipairs({ "env", "runbook" }) do
          if r[f] ~= nil and not set_of(r[f]) then
            bad(f, "%s.%s must be a name or a list of names", where, f)
          end
        end
        if r.after ~= nil and (type(r.after) ~= "number" or r.after < 1
            or r.after ~= math.floor(r.after)) then
          bad("after", "%s.after must be a whole number >= 1", where)
        end
        if r.after ~= nil and on and not on["schedule.failing"] then
          bad("after", "%s.after applies to schedule.failing only", where)
        end
      end
    end
  end
  return list
end

local function config()
  local cfg = C.current
  local n = cfg and cfg.notifications
  if type(n) ~= "table" then return nil end
  return n
end

-- The channels of the rules that match event (sorted, no duplicates).
-- ctx: { env =, runbook =, failures = } for the rules' filters.
local function channels_for(event, ctx)
  local n = config()
  if not n or type(n.rules) ~= "table" then return {} end
  local found = {}
  for _, r in ipairs(n.rules) do
    local on = set_of(r.on) or {}
    local hit = on[event] or (on["run.finished"] and event:match("^run%.") ~= nil)
    if hit and r.env ~= nil then hit = ctx.env ~= nil and (set_of(r.env) or {})[ctx.env] end
    if hit and r.runbook ~= nil then hit = (set_of(r.runbook) or {})[ctx.runbook or ""] end
    if hit and event == "schedule.failing" then
      hit = (ctx.failures or 0) == (r.after or 1)
    end
    if hit then
      local chs = r.channel == nil and n.default and { [n.default] = true } or set_of(r.channel) or {}
      for ch in pairs(chs) do found[ch] = true end
    end
  end
  return util.sorted_keys(found)
end

local rfc3339 = util.rfc3339

-- The run the notification is about: id, runbook, version, env, user.
local function run_info()
  local A = require("summit.c.approval")
  local ok, info = pcall(A.info)
  local def = E.def or {}
  return {
    run = ok and info.run or nil, started_by = ok and info.started_by or nil,
    runbook = def.name, version = def.version, env = C.env_name,
  }
end

-- ---- payloads ------------------------------------------------------------

local function slack_escape(s)
  return (tostring(s):gsub("&", "&amp;"):gsub("<", "&lt;"):gsub(">", "&gt;"))
end

local ICON = {
  ["run.failed"] = ":x:", ["run.succeeded"] = ":white_check_mark:",
  ["run.cancelled"] = ":no_entry_sign:", ["approval.requested"] = ":raised_hand:",
  ["schedule.failing"] = ":rotating_light:",
  info = ":information_source:", warn = ":warning:", error = ":rotating_light:",
}

-- Slack-compatible incoming-webhook JSON: text (the fallback shown in
-- notifications) and blocks: the message, the fields, the command to run
-- and a context line naming the run.
local function slack(p)
  local icon = ICON[p.event] or ICON[p.level] or ""
  local lines = { icon .. " " .. slack_escape(p.message) }
  if p.error then
    lines[#lines + 1] = "> " .. slack_escape(p.error.code .. ": " .. p.error.message)
  end
  if p.command then
    lines[#lines + 1] = (p.event == "approval.requested" and "Approve with: " or "Then: ")
      .. "`" .. slack_escape(p.command) .. "`"
  end
  local blocks = {
    { type = "section", text = { type = "mrkdwn", text = table.concat(lines, "\n") } },
  }
  if p.fields and next(p.fields) then
    local fs = {}
    for _, k in ipairs(util.sorted_keys(p.fields)) do
      if #fs < 10 then   -- Slack shows at most 10 fields in a section
        local v = p.fields[k]
        fs[#fs + 1] = { type = "mrkdwn", text = "*" .. slack_escape(k) .. "*\n"
          .. slack_escape(type(v) == "table" and json.encode(v) or tostring(v)) }
      end
    end
    blocks[#blocks + 1] = { type = "section", fields = fs }
  end
  local ctx = {}
  if p.runbook then
    ctx[#ctx + 1] = "runbook `" .. slack_escape(p.runbook)
      .. (p.version and (" " .. slack_escape(p.version)) or "") .. "`"
  end
  if p.run then ctx[#ctx + 1] = "run `" .. slack_escape(p.run) .. "`" end
  if p.env then ctx[#ctx + 1] = "env `" .. slack_escape(p.env) .. "`" end
  if p.started_by then ctx[#ctx + 1] = "by " .. slack_escape(p.started_by) end
  if #ctx > 0 then
    blocks[#blocks + 1] = { type = "context",
      elements = { { type = "mrkdwn", text = table.concat(ctx, " · ") } } }
  end
  local text = p.message
  if p.command then text = text .. " -- " .. p.command end
  return { text = text, blocks = blocks }
end

-- The payload of event for channel ch: p is the generic form (docs/
-- notifications.md lists its fields).
local function payload(ch, p)
  if (ch.format or "slack") == "generic" then return p end
  return slack(p)
end

-- ---- delivery ------------------------------------------------------------

local function ms_of(v, default)
  if v == nil then return default end
  return T.duration_ms(v)
end

-- deliver(name, ch, body, deadline) -> { status, tries } or nil, why, tries.
-- POSTs body to the channel's webhook; connection failures, timeouts, 408,
-- 429 and 5xx are tried again after a backoff, other answers are final.
local function deliver(name, ch, body, deadline)
  local url = ch.url
  if url == nil and ch.url_env then
    url = os.getenv(ch.url_env)
    if url == nil or url == "" then
      return nil, string.format("the environment variable %s (url_env) is not set", ch.url_env), 0
    end
    if not url:match("^https?://") then
      return nil, string.format("the environment variable %s (url_env) does not hold an "
        .. "http:// or https:// URL", ch.url_env), 0
    end
  end
  local headers = { ["Content-Type"] = "application/json" }
  for k, v in pairs(ch.headers or {}) do headers[k] = v end
  local secrets = { url }
  for _, v in pairs(ch.headers or {}) do secrets[#secrets + 1] = v end
  local tries = 1 + (ch.retries or DEFAULT.retries)
  local delay = ms_of(ch.backoff, DEFAULT.backoff_ms)
  local timeout = ms_of(ch.timeout, DEFAULT.timeout_ms) / T.time_scale()
  local why
  for try = 1, tries do
    local r, code, msg = H.request({ method = "POST", url = url, headers = headers,
      body = body, timeout_ms = timeout, deadline_ms = deadline,
      max_per_host = (C.http_caps()), max_total = select(2, C.http_caps()) })
    if r and r.status >= 200 and r.status <= 299 then
      return { status = r.status, tries = try }
    end
    if r then
      why = string.format("the webhook answered %d", r.status)
      local text = (r.body or ""):gsub("%s+", " "):sub(1, 200)
      if text ~= "" then why = why .. ": " .. redact.text(text, secrets) end
    else
      why = redact.text(string.format("%s: %s", tostring(code), tostring(msg)), secrets)
      if code == "ECANCELED" then return nil, why, try end
    end
    local again = not r or r.status >= 500 or r.status == 429 or r.status == 408
    if not again then return nil, why, try end
    if try < tries then
      local wait = math.min(DEFAULT.max_backoff_ms, delay * 2 ^ (try - 1)) / T.time_scale()
      out.emit("notify.retrying", { channel = name, try = try, delay_ms = math.floor(wait),
                                    error = why })
      local w, wcode = T.sleep_until(T.now_ms() + wait, deadline, true)
      if w == nil and wcode then return nil, why, try end
    end
  end
  return nil, why, tries
end

-- send(name, p, at) -> { delivered, channel, status, tries } or
-- { delivered = false, channel, error }: one journal entry. at = { prefix,
-- n } keys it outside the runbook's own sequence (automatic
-- notifications); nil keys it where the runbook is.
local function send(name, p, identity, at)
  local n = config()
  local ch = n and n.channels and n.channels[name]
  local stored = json.encode({ event = p.event, channel = name, level = p.level })
  local function body(_, _, key)
    local r, why, tries
    if not ch then
      -- In flight at a crash, and summit.lua lost the channel since.
      why, tries = "the channel is no longer in summit.lua's notifications.channels", 0
    else
      local info = run_info()
      for k, v in pairs(info) do if p[k] == nil then p[k] = v end end
      p.ts = rfc3339(T.now_ms())
      p.channel = name
      local ok, a, b, c = pcall(function()
        -- A message or error built from a secret leaves without it.
        return deliver(name, ch, S.redact(json.encode(payload(ch, p))),
          at == nil and E.deadline() or nil)
      end)
      if ok then
        r, why, tries = a, b, c
      elseif errors.is(a) and a.code == "ECANCELED" then
        error(a, 0)
      else
        -- Never the run's failure; never the URL either.
        why, tries = redact.text(tostring(a), { ch.url or os.getenv(ch.url_env or "") }), 0
      end
    end
    if r then
      out.emit("notify.sent", { key = key, channel = name, event = p.event, status = r.status,
                                tries = r.tries })
      return { delivered = true, channel = name, status = r.status, tries = r.tries }
    end
    local msg = string.format("notification %s to channel '%s' was not delivered%s: %s",
      p.event, name, tries > 1 and string.format(" after %d tries", tries) or "", why)
    out.log("warn", msg)
    out.emit("notify.failed", { key = key, channel = name, event = p.event, tries = tries,
                                error = msg })
    error(errors.new("ENOTIFY", msg, { channel = name, event = p.event, tries = tries,
                                       retryable = false }), 0)
  end
  local opts = { effect = true, stored = function() return stored end }
  local ok, r
  if at then
    ok, r = pcall(E.entry_at, at.prefix, at.n, "notify", name, identity, opts, body)
  else
    ok, r = pcall(E.entry, "notify", name, identity, opts, body)
  end
  if ok then return r end
  local e = errors.normalize(r)
  if e.code ~= "ENOTIFY" then error(r, 0) end   -- a cancellation goes on
  return { delivered = false, channel = name, error = e.message }
end

-- ---- notify() ------------------------------------------------------------

local argerr = argcheck.raiser("")
local NOTIFY_OPTIONS = { channel = true, level = true, fields = true }

-- notify(message [, { channel =, level =, fields = }]) -> { delivered,
-- channel, status, tries, error }
function M.notify(message, o)
  if type(message) ~= "string" or message == "" then
    argerr("notify", "message", "a non-empty string expected, got " .. type(message))
  end
  if o ~= nil and type(o) ~= "table" then argerr("notify", "opts", "a table expected, got " .. type(o)) end
  o = o or {}
  local unknown = argcheck.unknown(o, NOTIFY_OPTIONS)
  if unknown ~= nil then
    argerr("notify", tostring(unknown), "unknown option (known: " .. argcheck.known(NOTIFY_OPTIONS) .. ")")
  end
  local level = o.level or "info"
  if not LEVELS[level] then argerr("notify", "level", "\"info\", \"warn\" or \"error\"") end
  if o.fields ~= nil then
    if type(o.fields) ~= "table" then argerr("notify", "fields", "a table expected") end
    for k, v in pairs(o.fields) do
      local t = type(v)
      if type(k) ~= "string" or not (t == "string" or t == "number" or t == "boolean"
          or t == "table") then
        argerr("notify", "fields", "string keys with strings, numbers, booleans or tables")
      end
    end
    local ok, why = pcall(json.encode, o.fields)
    if not ok then argerr("notify", "fields", tostring(why)) end
  end
  local n = config()
  local chans = n and type(n.channels) == "table" and n.channels or {}
  local name = o.channel
  if name ~= nil then
    if type(name) ~= "string" then argerr("notify", "channel", "a channel name expected") end
    if not chans[name] then
      argerr("notify", "channel", string.format("'%s' is not in summit.lua's notifications.channels "
        .. "(known: %s)", name, argcheck.known(chans)))
    end
  else
    name = n and n.default
    if name == nil then
      local only = util.sorted_keys(chans)
      if #only == 1 then name = only[1] end
    end
  end
  if name == nil then
    -- No channel to send to: the message is only logged.
    if not E.replaying() then
      out.log(level, "notify: " .. message .. (next(chans) and " (not sent: several channels "
        .. "and no notifications.default; pass channel =)" or " (not sent: no "
        .. "notifications.channels in summit.lua)"))
    end
    return { delivered = false, error = "no channel" }
  end
  local identity = json.encode({ message = message, level = level, fields = o.fields })
  return send(name, { event = "notify", level = level, message = message,
                      fields = o.fields }, identity)
end

-- ---- automatic notifications -----------------------------------------------

-- A journal key part for t: letters, digits, _ and - only.
local function keypart(t)
  return (tostring(t):gsub("/", "_"):gsub("%.", "-"):gsub("~", "t"):gsub("[^%w_-]", ""))
end

-- The end of a run (engine.on_end, through summit.api when summit.lua
-- has rules): run.succeeded, run.failed (failed, or rolled back after a
-- failure) or run.cancelled (rolled back after summit cancel --rollback).
-- A run cancelled without rollback sends nothing (it can start no entry
-- any more).
function M.run_ended(outcome, def)
  if not config() then return end
  local status = outcome.status
  local event
  if status == "succeeded" then event = "run.succeeded"
  elseif status == "failed" then event = "run.failed"
  elseif status == "rolled_back" then event = outcome.cancelled and "run.cancelled" or "run.failed"
  else return end
  local chans = channels_for(event, { env = C.env_name, runbook = def and def.name })
  local e = outcome.error
  if event ~= "run.succeeded" then
    -- A run a schedule started: its failure extends the schedule's streak
    -- (the daemon counts it when this process has ended).
    local sok, sch = pcall(require("summit.c.notify").schedule)
    if sok and sch then
      pcall(M.schedule_failing, { schedule = sch.name, failures = sch.failures + 1,
        run = run_info().run, error = e and { code = e.code, message = e.message } })
    end
  end
  if #chans == 0 then return end
  -- The ending's identity: a replay after a crash finds the same entries;
  -- a failed run resumed that fails again (its failed entry's next
  -- attempt) notifies again.
  local tag = event == "run.failed" and "failed" or status
  if e and e.key then
    tag = tag .. "-" .. keypart(e.key) .. "-a" .. tostring(E.failed_attempt(e.key) or 0)
  end
  local info = run_info()
  local p = { event = event, status = status, level = event == "run.succeeded" and "info" or "error" }
  if e then p.error = { code = tostring(e.code), message = tostring(e.message) } end
  if e and e.key then p.key = e.key end
  if outcome.undone then p.undone = outcome.undone end
  local what = (info.runbook and ("runbook " .. info.runbook) or "run")
  if event == "run.succeeded" then
    p.message = string.format("%s succeeded (run %s)", what, tostring(info.run))
  elseif event == "run.cancelled" then
    p.message = string.format("%s was cancelled and rolled back (run %s)", what, tostring(info.run))
  else
    p.message = string.format("%s %s (run %s)", what,
      status == "rolled_back" and "failed and was rolled back" or "failed", tostring(info.run))
    if status == "failed" then p.command = "summit resume " .. tostring(info.run) end
  end
  for _, name in ipairs(chans) do
    local q = {}
    for k, v in pairs(p) do q[k] = v end
    send(name, q, event, { prefix = "0.end-" .. tag .. "-" .. name, n = 0 })
  end
end

-- approval_requested{ key, attempt, gate, needs, command, reason,
-- deadline_ms }: called by summit.approval when a gate opens. The entries
-- are keyed under the gate's key and attempt (KEY.notify-CHANNEL/ATTEMPT),
-- so the same gate asked again notifies again.
function M.approval_requested(a)
  if not config() then return end
  local info = run_info()
  local chans = channels_for("approval.requested", { env = C.env_name, runbook = info.runbook })
  for _, name in ipairs(chans) do
    local p = {
      event = "approval.requested", level = "warn", gate = a.gate, needs = a.needs,
      command = a.command, reason = a.reason, key = a.key,
      deadline = a.deadline_ms and rfc3339(a.deadline_ms) or nil,
      message = string.format("gate '%s' of %s (run %s) waits for approval%s", a.gate,
        info.runbook and ("runbook " .. info.runbook) or "a run", tostring(info.run),
        a.needs and a.needs ~= "" and (": needs " .. a.needs) or ""),
    }
    send(name, p, "approval.requested " .. a.gate,
      { prefix = a.key .. ".notify-" .. name, n = (a.attempt or 1) - 1 })
  end
end

-- schedule_failing{ schedule, failures, run, error = { code, message } }:
-- for the daemon's scheduled runs (docs/notifications.md). Sends
-- schedule.failing to the channels of the rules whose `after` equals
-- failures, as entries of the running run (keyed 0.schedule-NAME-N-CHANNEL/1),
-- so it is sent once per streak even if the run is resumed.
function M.schedule_failing(s)
  if not config() then return end
  if type(s) ~= "table" or type(s.schedule) ~= "string" or type(s.failures) ~= "number" then
    argerr("notify.schedule_failing", "s", "{ schedule = NAME, failures = N } expected")
  end
  local info = run_info()
  local chans = channels_for("schedule.failing", { env = C.env_name, runbook = info.runbook,
                                                    failures = s.failures })
  for _, name in ipairs(chans) do
    local p = {
      event = "schedule.failing", level = "error", schedule = s.schedule,
      failures = s.failures, run = s.run,
      error = s.error and { code = tostring(s.error.code), message = tostring(s.error.message) },
      message = string.format("schedule '%s' failed %d time%s in a row%s", s.schedule,
        s.failures, s.failures == 1 and "" or "s",
        s.run and (" (last run " .. s.run .. ")") or ""),
    }
    send(name, p, "schedule.failing " .. s.schedule .. " " .. s.failures,
      { prefix = "0.schedule-" .. keypart(s.schedule) .. "-" .. s.failures .. "-" .. name, n = 0 })
  end
end

return M
