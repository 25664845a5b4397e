-- The globals of a runbook (DESIGN §6): step, parallel, sleep, now, random,
-- log, fail, exec, json, runbook. Each journaled call goes through
-- engine.entry; waiting is done by the C primitives of summit.c.task/exec.
local E = require("summit.engine")
local T = require("summit.c.task")
local X = require("summit.c.exec")
local J = require("summit.c.journal")
local out = require("summit.c.out")
local json = require("summit.json")
local errors = require("summit.errors")
local R = require("summit.runbook")
local S = require("summit.c.secrets")
local redact = require("summit.redact")
local SB = require("summit.sandbox")
local argcheck = require("summit.args")
local modules = require("summit.modules")
local keys = require("summit.misspelt")
local util = require("summit.util")

local api = {}

local pack, rfc3339 = util.pack, util.rfc3339
local argerr = argcheck.raiser("")

api.runbook = R.define
api.json = json


-- backoff = "fixed" | "exponential" | { initial =, max =, factor =, jitter = }
local function backoff_arg(b)
  if b == nil or b == "exponential" then return nil end
  if b == "fixed" then return { fixed = true, initial = 1000, jitter = false } end
  if type(b) ~= "table" then argerr("step", "backoff", "\"fixed\", \"exponential\" or a table") end
  local o = { initial = 1000, factor = 2, max = 100000, jitter = true }
  if b.initial ~= nil then o.initial = argcheck.duration("step", "backoff.initial", b.initial, 4) end
  if b.max ~= nil then o.max = argcheck.duration("step", "backoff.max", b.max, 4)
  else o.max = 100 * o.initial end
  if b.factor ~= nil then
    if type(b.factor) ~= "number" or b.factor < 1 then argerr("step", "backoff.factor", "a number >= 1") end
    o.factor = b.factor
  end
  if b.jitter ~= nil then o.jitter = b.jitter and true or false end
  if b.type == "fixed" then o.fixed = true end
  return o
end

-- A key step{} does not know (`retires = 3`) would run with no retries:
-- an error, at the runbook's line, or where the step's function starts
-- when `return step{...}` (a tail call) left no frame naming it.
local function step_unknown(o)
  local k = keys.unknown(o, keys.STEP, true)
  if k ~= nil then error(E.site(o[2] or o.fn) .. ": " .. keys.message("step", tostring(k), keys.STEP), 0) end
end

-- step(name, fn) or step{ name, fn, retries =, backoff =, timeout =,
-- on_exhausted = "fail"|"pause", undo = fn(results...), idempotent = false }
function api.step(a, b)
  local name, fn, o
  if type(a) == "table" then
    step_unknown(a)
    o = a
    name, fn = a[1] or a.name, a[2] or a.fn
  else
    name, fn, o = a, b, {}
  end
  if type(name) ~= "string" or name == "" then argerr("step", "name", "a non-empty string expected") end
  if type(fn) ~= "function" then argerr("step", "fn", "a function expected") end
  local opts = { scope = true, lazy = true, idempotent = o.idempotent, fn = fn }
  if o.retries ~= nil then
    if type(o.retries) ~= "number" or o.retries < 0 or o.retries ~= math.floor(o.retries) then
      argerr("step", "retries", "a whole number >= 0")
    end
    opts.retries = o.retries
    opts.backoff = backoff_arg(o.backoff)
  elseif o.backoff ~= nil then
    argerr("step", "backoff", "needs retries")
  end
  if o.on_exhausted ~= nil then
    if o.on_exhausted ~= "fail" and o.on_exhausted ~= "pause" then
      argerr("step", "on_exhausted", "\"fail\" or \"pause\"")
    end
    opts.on_exhausted = o.on_exhausted
    opts.retries = opts.retries or 0
  end
  if o.timeout ~= nil then
    opts.timeout_ms = argcheck.duration("step", "timeout", o.timeout) / T.time_scale()
  end
  if o.undo ~= nil then
    if type(o.undo) ~= "function" then argerr("step", "undo", "a function expected") end
    opts.undo = o.undo
  end
  if o.secret_output then
    -- The journal keeps a hash of the results; the step runs again when a
    -- resumed run reaches it (docs/secrets.md).
    opts.secret_result = function(...)
      local ok, text = pcall(json.encode, { ... })
      return { secret_sha256 = J.sha256(ok and text or "") }
    end
    opts.rerun_completed = true
  end
  return E.entry("step", name, "", opts, function() return fn() end)
end

-- parallel{ fn, fn } or parallel{ a = fn, b = fn }: branches run as child
-- tasks; results come back under the same keys. The first failure cancels
-- the other branches and is raised.
function api.parallel(branches)
  if type(branches) ~= "table" then argerr("parallel", "branches", "a table of functions expected") end
  local names, n = {}, #branches
  for k, fn in pairs(branches) do
    if type(fn) ~= "function" then
      argerr("parallel", tostring(k), "a function expected")
    end
    if n > 0 and type(k) ~= "number" then
      argerr("parallel", tostring(k), "mix of list and named branches")
    end
    names[#names + 1] = k
  end
  table.sort(names, function(x, y) return tostring(x) < tostring(y) end)
  if n > 0 then
    for i = 1, n do names[i] = i end
  end
  local desc = {}
  for i, k in ipairs(names) do desc[i] = tostring(k) end
  return E.entry("parallel", "parallel", table.concat(desc, ","), { scope = true, lazy = true },
    function(_, _, key)
      local parent = T.self()
      local inherited = E.scope_state()
      local results, pending, failed = {}, #names, nil
      local handles = {}
      for i, k in ipairs(names) do
        local prefix = J.branch(key, tostring(k))
        if not prefix then argerr("parallel", tostring(k), "branch names may use letters, digits, _ and -") end
        local fn = branches[k]
        handles[i] = T.spawn(function()
          E.enter_branch(prefix, inherited)
          local ok, res = pcall(function()
            local r = fn()
            E.end_branch(prefix)
            return r
          end)
          if ok then results[k] = res elseif failed == nil then failed = res end
          pending = pending - 1
          if pending == 0 or not ok then T.wake(parent) end
        end)
      end
      if pending > 0 then T.suspend() end
      if failed ~= nil then
        for _, h in ipairs(handles) do T.cancel(h) end
        error(failed, 0)
      end
      return results
    end)
end

-- sleep(d): durable. The wake time is journaled, so a run resumed after it
-- does not wait again; with --detach the run suspends instead of waiting.
function api.sleep(d)
  local ms = argcheck.duration("sleep", "d", d)
  return E.entry("sleep", "sleep", tostring(ms), {
    stored = function(prev)
      if prev and prev.state == "started" and prev.args then return prev.args end
      return string.format("%.0f", T.now_ms() + ms / T.time_scale())
    end,
  }, function(_, stored, key)
    local wake = tonumber(stored)
    if wake > T.now_ms() then
      out.emit("wait.started", { key = key, kind = "sleep", ["until"] = rfc3339(wake) })
      E.check_wait(T.sleep_until(wake, E.deadline()))
      out.emit("wait.finished", { key = key, kind = "sleep" })
    end
  end)
end

-- now() -> journaled wall-clock seconds (with milliseconds).
function api.now()
  return E.entry("now", "now", "", { durable = false }, function()
    return T.now_ms() / 1000
  end)
end

-- os.time() is now() in whole seconds; os.time(t) converts a date table.
local real_time = os.time
function api.time(t)
  if t ~= nil then return real_time(t) end
  return math.floor(api.now())
end

-- random([m [, n]]) -> like math.random, journaled.
function api.random(m, n)
  if m ~= nil and type(m) ~= "number" then argerr("random", "m", "a number expected") end
  if n ~= nil and type(n) ~= "number" then argerr("random", "n", "a number expected") end
  if m and not n then m, n = 1, m end
  if m and m > n then argerr("random", "n", "interval is empty") end
  return E.entry("random", "random", tostring(m) .. "," .. tostring(n), { durable = false },
    function()
      local u = T.random_u32() / 4294967296
      if not m then return u end
      return m + math.floor(u * (n - m + 1))
    end)
end

local function fmt(f, ...)
  if select("#", ...) > 0 then return string.format(f, ...) end
  return tostring(f)
end

-- log.info|warn|error(fmt, ...): not journaled; quiet while replaying.
api.log = {}
for _, level in ipairs({ "info", "warn", "error" }) do
  api.log[level] = function(f, ...)
    if not E.replaying() then out.log(level, fmt(f, ...)) end
  end
end

function api.print(...)
  local parts = {}
  for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
  api.log.info(table.concat(parts, "\t"))
end

-- fail(message [, fields]): fails the current step (and the run, unless
-- caught with pcall) with code EFAIL.
function api.fail(message, fields)
  local e = errors.new("EFAIL", tostring(message), fields)
  e.where = E.site()
  error(e, 0)
end

local function tail(s, n)
  s = s or ""
  if #s > n then s = "..." .. s:sub(-n) end
  return (s:gsub("%s+$", ""))
end

-- opts.accept(result) -> true | false, why: a result it refuses fails the
-- entry (ECHECK, why) instead of completing it, so a resumed run asks again
-- rather than replaying a result the caller already judged bad
-- (summit.checks).
local function accepted(accept, res, fields)
  if accept == nil then return end
  local ok, why = accept(res)
  if not ok then
    error(errors.new("ECHECK", tostring(why or "the result was not accepted"), fields), 0)
  end
end

local function accept_arg(fname, o)
  if o.accept ~= nil and type(o.accept) ~= "function" then
    argerr(fname, "accept", "a function(result) expected")
  end
end

-- exec(argv, opts) -> { code, stdout, stderr }: argv is a list (never a
-- shell string). opts: cwd, env, input, timeout, check (default true),
-- max_output, idempotent, secret_output. Secret values (docs/secrets.md)
-- and the values of secret-looking flags (--password x, TOKEN=x) never
-- reach the journal, the audit or the events.
function api.exec(argv, opts)
  if type(argv) ~= "table" or #argv == 0 then argerr("exec", "argv", "a non-empty list of strings expected") end
  local args = {}
  for i = 1, #argv do
    local a = argv[i]
    if type(a) ~= "string" and type(a) ~= "number" then
      argerr("exec", "argv", "argv[" .. i .. "] is a " .. type(a))
    end
    args[i] = tostring(a)
  end
  local o = opts or {}
  if type(o) ~= "table" then argerr("exec", "opts", "a table expected") end
  local timeout_ms
  if o.timeout ~= nil then
    timeout_ms = argcheck.duration("exec", "timeout", o.timeout) / T.time_scale()
  end
  if o.env ~= nil and type(o.env) ~= "table" then argerr("exec", "env", "a table expected") end
  accept_arg("exec", o)
  local secret_output = o.secret_output and true or false
  -- The identity hashes what makes the call; only argv (masked) and cwd
  -- are stored (env and input may hold secrets).
  local identity = json.encode({ args, o.cwd or json.null, o.env or json.null, o.input or json.null })
  local masked = redact.argv(args)
  local shown = json.encode({ argv = masked, cwd = o.cwd })
  local line = table.concat(masked, " ")
  return E.entry("exec", args[1], identity, {
    effect = true,
    idempotent = o.idempotent,
    on_skip = function() return { code = 0, stdout = "", stderr = "", skipped = true } end,
    stored = function() return shown end,
    -- secret_output: the journal keeps a hash of stdout, so the call
    -- runs again whenever a resumed run reaches it (docs/secrets.md).
    secret_result = secret_output and function(res)
      local r = {}
      for k, v in pairs(res) do r[k] = v end
      r.stdout, r.stdout_sha256 = nil, J.sha256(res.stdout or "")
      return r
    end or nil,
    rerun_completed = secret_output,
  }, function(_, _, key)
    local r, ename, emsg = X.run(args, {
      cwd = o.cwd, env = o.env, input = o.input, timeout_ms = timeout_ms,
      max_output = o.max_output, label = key, deadline_ms = E.deadline(),
      secret_output = secret_output,
    })
    if r and secret_output then
      -- What it printed is a secret too from now on.
      local v = (r.stdout or ""):gsub("^%s+", ""):gsub("%s+$", "")
      if #v >= 4 then S.add("stdout of " .. key, v) end
    end
    if not r and (ename == "ETIMEDOUT" or ename == "ECANCELED") then
      error(errors.new(ename, string.format("'%s' was stopped: %s", args[1], emsg),
        { argv = masked }), 0)
    end
    if not r then
      error(errors.new(ename, string.format("cannot run '%s': %s", args[1], emsg),
        { argv = masked }), 0)
    end
    -- Redacted before it is cut, so no part of a secret is left at the cut.
    local stderr = S.redact(r.stderr or "")
    local stdout = secret_output and "" or S.redact(r.stdout or "")
    if r.timed_out then
      error(errors.new("ETIMEDOUT", string.format("'%s' timed out after %s",
        args[1], tostring(o.timeout)), { argv = masked, stdout = stdout, stderr = stderr }), 0)
    end
    if o.check ~= false and r.code ~= 0 then
      local why = r.signal and ("was killed by signal " .. r.signal)
        or ("exited with code " .. r.code)
      local err = tail(stderr, 400)
      error(errors.new("EEXIT", string.format("'%s' %s%s", line, why,
        err ~= "" and (": " .. err) or ""),
        { exit_code = r.code, stdout = stdout, stderr = stderr }), 0)
    end
    local res = { code = r.code, stdout = r.stdout, stderr = r.stderr, signal = r.signal,
                  truncated = r.truncated }
    accepted(o.accept, res, { argv = masked, code = r.code })
    return res
  end)
end

-- require inside a runbook: the stdlib (stdlib/summit/*.lua) and json,
-- only from what is compiled in, nothing of the engine; any other name is
-- a team module of summit.lua's `modules` directories (summit.modules),
-- run in the runbook's sandbox. A stdlib module is the runbook's own copy
-- (summit.sandbox), so assigning to one of its fields changes nothing the
-- engine or the stdlib uses; a team module is the sandbox's already.
-- ctx: { env = the sandbox, loading = the team modules loading now }.
local function load_required(name, ctx)
  -- Level 4: the runbook's line (1 is argerr, 2 here, 3 summit.sandbox's require).
  if type(name) ~= "string" then
    argerr("require", "name", "a string expected", 4)
  end
  if T.stdlib(name) then return require(name) end
  if modules.reserved(name) then
    error(string.format("require: module '%s' is not available to runbooks (summit and "
      .. "summit.* name the stdlib only, e.g. require \"summit.json\"; a team module "
      .. "cannot take such a name: a summit/ folder of the modules directories is never "
      .. "loaded)", name), 3)
  end
  local m, err = modules.load(name, ctx.env, ctx.loading)
  if m == nil then error("require '" .. name .. "': " .. err, 3) end
  return m, true
end

local LK = require("summit.c.lock")
local H = require("summit.c.http")

-- http.request{ method, url, headers, body, json, timeout, connect_timeout,
--   check, follow_redirects, max_redirects, max_response, insecure, ca_file,
--   ca, cert, key, unix_socket, idempotent, retry }
-- -> { status, headers, body, json, url }. A non-2xx status is a result
-- unless check = true. Secret headers (Authorization, cookies, tokens) and
-- URL credentials never reach the journal, the logs or the events.
api.http = {}

-- RFC 9110 9.2.2: a request of these methods may be sent twice.
local IDEMPOTENT = { GET = true, HEAD = true, OPTIONS = true, TRACE = true,
                     PUT = true, DELETE = true }

function api.http.request(o)
  if type(o) ~= "table" then argerr("http.request", "opts", "a table expected") end
  if type(o.url) ~= "string" or not o.url:match("^https?://") then
    argerr("http.request", "url", "an http:// or https:// URL expected")
  end
  local headers, has = {}, {}
  if o.headers ~= nil and type(o.headers) ~= "table" then argerr("http.request", "headers", "a table expected") end
  accept_arg("http.request", o)
  for k, v in pairs(o.headers or {}) do
    headers[tostring(k)] = tostring(v)
    has[tostring(k):lower()] = true
  end
  local body = o.body
  if body ~= nil and type(body) ~= "string" then argerr("http.request", "body", "a string expected (or use json =)") end
  if o.json ~= nil then
    local ok, text = pcall(json.encode, o.json)
    if not ok then argerr("http.request", "json", tostring(text)) end
    body = text
    if not has["content-type"] then headers["Content-Type"] = "application/json" end
    if not has["accept"] then headers["Accept"] = "application/json" end
  end
  local method = (o.method or (body and "POST" or "GET")):upper()
  local timeout_ms = argcheck.duration("http.request", "timeout", o.timeout or 30) / T.time_scale()
  local connect_ms = o.connect_timeout ~= nil
    and argcheck.duration("http.request", "connect_timeout", o.connect_timeout) / T.time_scale() or nil
  if o.retry ~= nil and type(o.retry) ~= "boolean" then
    argerr("http.request", "retry", "true or false expected")
  end
  -- Connection set-up is retried within the timeout (docs/api.md); a
  -- request that may have reached the server only if it is idempotent.
  local retry = o.retry ~= false
  local resend = retry and IDEMPOTENT[method] == true and o.idempotent ~= false
  local max_per_host, max_total = require("summit.config").http_caps()
  local secrets = {}
  for k, v in pairs(headers) do
    if redact.is_secret_header(k) then secrets[#secrets + 1] = v end
  end
  for cred in o.url:gmatch("^%a[%w+.-]*://([^/@]+)@") do secrets[#secrets + 1] = cred end
  local shown = redact.url(o.url)
  local name = method .. " " .. (shown:gsub("[?#].*$", ""))
  local identity = method .. " " .. shown .. " " .. J.hash(body or "")
  local stored = json.encode({ method = method, url = shown, headers = redact.headers(headers) })
  -- durable = false: the request leaves only when the loop runs, and the
  -- scheduler commits every pending row before it runs the loop, so the
  -- started rows of many concurrent requests share one commit.
  return E.entry("http", name, identity, {
    effect = true, idempotent = o.idempotent, durable = false,
    stored = function() return stored end,
  }, function()
    local r, code, msg = H.request({
      method = method, url = o.url, headers = headers, body = body,
      timeout_ms = timeout_ms, connect_timeout_ms = connect_ms,
      retry = retry, idempotent = resend,
      max_per_host = max_per_host, max_total = max_total,
      follow_redirects = o.follow_redirects,
      max_redirects = o.max_redirects, max_response = o.max_response,
      insecure = o.insecure == true, ca_file = o.ca_file, ca = o.ca,
      cert = o.cert, key = o.key, unix_socket = o.unix_socket,
      deadline_ms = E.deadline(),
    })
    if not r then
      error(errors.new(code, redact.text(string.format("%s %s: %s", method, shown, msg), secrets),
        { url = shown }), 0)
    end
    local res = { status = r.status, headers = redact.headers(r.headers), body = r.body,
                  url = r.url and redact.url(r.url) }
    local ctype = r.headers["content-type"] or ""
    local want_json = o.json ~= nil or o.decode == "json"
    if (want_json or ctype:find("json", 1, true)) and r.body ~= ""
        and r.status >= 200 and r.status <= 299 then
      local ok, v = pcall(json.decode, r.body)
      if not ok then
        error(errors.new("EBADJSON", string.format("%s %s answered %d with a body that is not "
          .. "valid JSON (%s): %s", method, shown, r.status, tostring(v):gsub("^.-json%.decode: ", ""),
          r.body:sub(1, 200)), { status = r.status, url = shown }), 0)
      end
      res.json = v
    end
    if o.check and (r.status < 200 or r.status > 299) then
      error(errors.new("EHTTP", string.format("%s %s answered %d", method, shown, r.status),
        { status = r.status, body = r.body:sub(1, 2000), url = shown }), 0)
    end
    accepted(o.accept, res, { status = r.status, url = shown })
    return res
  end)
end

-- http.get|head|delete|post|put|patch(url, opts): request with that method.
for _, m in ipairs({ "get", "head", "delete", "post", "put", "patch" }) do
  api.http[m] = function(url, o)
    local r = {}
    for k, v in pairs(o or {}) do r[k] = v end
    r.url, r.method = url, m:upper()
    return api.http.request(r)
  end
end

-- lock(name, fn [, { timeout = }]) -> fn's results: runs fn while this run
-- holds the named lock, waiting for it if another live run holds it.
function api.lock(name, fn, opts)
  if type(name) ~= "string" or name == "" then argerr("lock", "name", "a non-empty string expected") end
  if type(fn) ~= "function" then argerr("lock", "fn", "a function expected") end
  local o = opts or {}
  local timeout_ms = o.timeout ~= nil and argcheck.duration("lock", "timeout", o.timeout) / T.time_scale() or nil
  return E.entry("lock", name, name, { scope = true }, function(_, _, key)
    local got, holder = LK.try(name)
    if not got then
      out.emit("wait.started", { key = key, kind = "lock", name = name, holder = holder })
      local deadline = timeout_ms and (T.now_ms() + timeout_ms) or nil
      local d = E.deadline()
      if d and (not deadline or d < deadline) then deadline = d end
      local ok, code = LK.wait(name, deadline)
      if not ok and code == "ETIMEDOUT" then
        error(errors.new("ETIMEDOUT", string.format("lock '%s' is still held by run %s",
          name, tostring(holder)), { holder = holder }), 0)
      end
      E.check_wait(ok, code)
      out.emit("wait.finished", { key = key, kind = "lock", name = name })
    end
    local r = pack(pcall(fn))
    LK.release(name)
    if not r[1] then error(r[2], 0) end
    return unpack(r, 2, r.n)
  end)
end

-- audit.record(action [, detail]): a record of the runbook's own in the
-- audit trail (docs/audit.md), with the run's user as actor. Journaled
-- (kind "audit"), so a resumed run does not write it twice; secrets in
-- detail are masked before it is hashed.
local AU = require("summit.c.audit")
api.audit = {}

function api.audit.record(action, detail)
  if type(action) ~= "string" or action == "" then
    argerr("audit.record", "action", "a non-empty string expected")
  end
  if detail ~= nil and type(detail) ~= "table" then
    argerr("audit.record", "detail", "a table expected, got " .. type(detail))
  end
  local text, why = AU.encode(detail or {})
  if not text then argerr("audit.record", "detail", why .. " cannot be recorded") end
  return E.entry("audit", action, text, { durable = false }, function()
    AU.record(action, text)
  end)
end

-- cluster() / cluster("name") / cluster{ kubeconfig =, context =, namespace = }
-- -> a Kubernetes client (summit.cluster); connecting waits for first use.
function api.cluster(arg)
  return require("summit.cluster").client(arg)
end

-- Modules that load the first time they are touched: most runs never use
-- git, metrics or an approval gate, and loading all three cost every
-- run's start about 1 ms. metrics: PromQL over the Prometheus HTTP API
-- (docs/metrics.md); git: the git CLI (docs/git.md); approval.require{...}
-- (docs/approvals.md). api.* are the stdlib's; a runbook gets its own.
local LAZY = { git = "summit.git", metrics = "summit.metrics", approval = "summit.approval" }
for k, name in pairs(LAZY) do api[k] = SB.lazy(name, require) end

-- notify(message, { channel =, level =, fields = }): a webhook to a
-- channel of summit.lua's notifications (summit.notify,
-- docs/notifications.md). summit.notify is loaded by the first call (a
-- tail call: its argument errors still name the runbook's line), or at
-- the run's end when summit.lua has a rule to act on; most runs need it
-- for neither.
function api.notify(...) return require("summit.notify").notify(...) end
E.on_end(function(outcome, def)
  if require("summit.config").notification_rules() then
    require("summit.notify").run_ended(outcome, def)
  end
end)

local GLOBALS = { "runbook", "step", "parallel", "sleep", "now", "random", "log",
                  "fail", "exec", "json", "print", "lock", "http", "cluster",
                  "audit", "notify" }

-- pcall and xpcall of a runbook: a cancellation passes through them, so a
-- runbook cannot swallow `summit cancel`.
local function pass_cancel(r)
  if not r[1] and T.cancelling() == "cancelling" and type(r[2]) == "table"
      and r[2].code == "ECANCELED" then
    error(r[2], 0)
  end
  return unpack(r, 1, r.n)
end

function api.pcall(f, ...)
  return pass_cancel(pack(pcall(f, ...)))
end

function api.xpcall(f, handler)
  return pass_cancel(pack(xpcall(f, function(e)
    if T.cancelling() == "cancelling" and type(e) == "table" and e.code == "ECANCELED" then
      return e
    end
    return handler(e)
  end)))
end

-- install(env): puts the API into a sandbox environment. Every table it
-- hands over is the sandbox's own copy (summit.sandbox): a runbook that
-- assigns to http.request or json.encode changes only what it calls.
function api.install(env)
  for _, k in ipairs(GLOBALS) do
    local v = api[k]
    env[k] = type(v) == "table" and SB.copy(v) or v
  end
  for k, name in pairs(LAZY) do env[k] = SB.lazy(name, require) end
  env.require = SB.requirer(load_required, { env = env, loading = {} })
  env.pcall, env.xpcall = api.pcall, api.xpcall
  env.getmetatable, env.setmetatable = SB.getmetatable, SB.setmetatable
  env.math.random = api.random
  env.os.time = api.time
  -- The selected environment (--env) from summit.lua, as a deep copy: its
  -- approval policy is the engine's, not the runbook's to relax.
  local C = require("summit.config")
  local e = C.env and SB.deep(C.env) or {}
  -- summit.lua's secrets (docs/secrets.md), read when summit.lua was.
  e.secrets = require("summit.secrets").env_table()
  env.env = e
end

return api
