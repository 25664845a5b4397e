-- summit.checks: health checks and smoke suites (docs/stdlib/checks.md).
--
--   local checks = require("summit.checks")
--   checks.http{ url = "http://web/healthz", retries = 5, interval = "2s" }
--   checks.command{ argv = { "scripts/verify/check-auth.sh" } }
--   checks.command_from_config("smoke")           -- commands.smoke in summit.lua
--   checks.suite("smoke", { { "health", { url = ... } }, { "auth", fn }, ... })
--
-- Every check is a journaled step: a resumed run replays a check that
-- passed and does not ask again. A check that does not pass raises an
-- error table with code ECHECK; a suite runs all its checks, reports every
-- result and then fails naming the ones that did not pass.
local api = require("summit.api")
local errors = require("summit.errors")
local config = require("summit.config")
local argcheck = require("summit.args")

local M = {}

-- ---- argument checks: misuse raises at once, naming the argument ----
-- (summit.args: bad() inside a spec function, reported by guard at the
-- caller of the public function)

local bad = argcheck.bad

local function duration(arg, v, default)
  if v == nil then v = default end
  local ms = argcheck.ms(v)
  if not ms then
    bad(arg, "a duration like \"2s\", \"1m\" or a number of seconds expected, got "
      .. (type(v) == "string" and ("'" .. v .. "'") or type(v)))
  end
  return v, ms
end

local function whole(arg, v, default, lo)
  if v == nil then return default end
  if type(v) ~= "number" or v ~= math.floor(v) or v < lo or v == math.huge then
    bad(arg, "a whole number >= " .. lo .. " expected")
  end
  return v
end

local function opt_string(arg, v)
  if v ~= nil and (type(v) ~= "string" or v == "") then bad(arg, "a non-empty string expected") end
  return v
end

local function argv_arg(arg, v)
  if type(v) ~= "table" or #v == 0 then bad(arg, "a non-empty argv list like { \"make\", \"smoke\" } expected") end
  for i, a in ipairs(v) do
    if type(a) ~= "string" then bad(arg .. "[" .. i .. "]", "a string expected, got " .. type(a)) end
  end
  return v
end

-- A json_path: "status", "checks.db.status", "items[1].name".
local function path_arg(v)
  if v == nil then return nil end
  if type(v) ~= "string" or v == "" then bad("json_path", "a path like \"checks.db.status\" expected") end
  local parts = {}
  for seg in v:gmatch("[^.]+") do
    local name, rest = seg:match("^([^%[]*)(.*)$")
    if name ~= "" then parts[#parts + 1] = name end
    for idx in rest:gmatch("%[(%d+)%]") do parts[#parts + 1] = tonumber(idx) end
    if rest:gsub("%[%d+%]", "") ~= "" then bad("json_path", "cannot read '" .. v .. "'") end
  end
  if #parts == 0 then bad("json_path", "cannot read '" .. v .. "'") end
  return parts
end

local function dig(v, parts)
  for _, p in ipairs(parts) do
    if type(v) ~= "table" then return nil end
    v = v[p]
  end
  return v
end

local function short(s, n)
  s = tostring(s or "")
  if #s > n then return s:sub(1, n) .. "..." end
  return s
end

local function check_error(name, attempts, why, fields)
  local f = { check = name, attempts = attempts }
  for k, v in pairs(fields or {}) do f[k] = v end
  return errors.new("ECHECK", string.format("check '%s' did not pass after %d attempt%s: %s",
    name, attempts, attempts == 1 and "" or "s", why), f)
end

-- attempts_loop(spec, try) -> try's result: `try` makes one attempt and
-- raises when it does not pass; the loop sleeps `interval` (durably)
-- between attempts, then raises ECHECK with the last reason.
local function attempts_loop(spec, try)
  local why
  for attempt = 1, spec.retries + 1 do
    local ok, res = pcall(try, attempt)
    local w
    if not ok then
      local e = errors.normalize(res)
      if e.code == "ECANCELED" then error(e, 0) end
      w = e.code == "ECHECK" and tostring(e.message) or (e.code .. ": " .. tostring(e.message))
      res = nil
    end
    if res then
      res.attempts = attempt
      return res, attempt
    end
    why = w
    if attempt <= spec.retries then
      api.log.warn("check '%s' attempt %d of %d: %s", spec.name, attempt, spec.retries + 1, why)
      api.sleep(spec.interval)
    end
  end
  error(check_error(spec.name, spec.retries + 1, why, spec.fields), 0)
end

-- ---- checks.http ----

local function http_spec(o)
  if type(o) ~= "table" then bad("opts", "a table like { url = \"http://...\" } expected") end
  local url = o.url or o[1]
  if type(url) ~= "string" or not url:match("^https?://") then
    bad("url", "an http:// or https:// URL expected")
  end
  local s = { url = url, fields = { url = url } }
  s.name = opt_string("name", o.name) or ("http " .. (url:gsub("[?#].*$", "")))
  s.method = opt_string("method", o.method) or "GET"
  if o.expect_status == nil then
    s.expect = { 200 }
  elseif type(o.expect_status) == "number" then
    s.expect = { o.expect_status }
  elseif type(o.expect_status) == "table" and #o.expect_status > 0 then
    s.expect = o.expect_status
  else
    bad("expect_status", "a status like 200 or a list of statuses expected")
  end
  for _, st in ipairs(s.expect) do
    if type(st) ~= "number" or st < 100 or st > 599 then bad("expect_status", "statuses from 100 to 599") end
  end
  s.retries = whole("retries", o.retries, 3, 0)
  s.interval = duration("interval", o.interval, "2s")
  s.timeout = duration("timeout", o.timeout, "5s")
  s.contains = opt_string("contains", o.contains)
  s.json_path = path_arg(o.json_path)
  s.path_text = o.json_path
  if o.equals ~= nil and not s.json_path then bad("equals", "needs json_path") end
  s.equals = o.equals
  if o.headers ~= nil and type(o.headers) ~= "table" then bad("headers", "a table expected") end
  s.headers = o.headers
  if o.body ~= nil and type(o.body) ~= "string" then bad("body", "a string expected") end
  s.body = o.body
  s.insecure = o.insecure
  return s
end

local function status_ok(s, st)
  for _, want in ipairs(s.expect) do if st == want then return true end end
  return false
end

-- why(s, r) -> nil when the response passes, else what is wrong.
local function http_verdict(s, r)
  if not status_ok(s, r.status) then
    return string.format("%s answered %d, expected %s: %s", s.url, r.status,
      table.concat(s.expect, " or "), short(r.body, 200))
  end
  if s.contains and not (r.body or ""):find(s.contains, 1, true) then
    return string.format("the body of %s does not contain '%s': %s", s.url, s.contains,
      short(r.body, 200))
  end
  if s.json_path then
    local value = dig(r.json, s.json_path)
    if s.equals ~= nil then
      if value ~= s.equals then
        return string.format("%s of %s is %s, expected %s", s.path_text, s.url,
          api.json.encode(value == nil and api.json.null or value), api.json.encode(s.equals))
      end
    elseif value == nil or value == false or value == api.json.null then
      return string.format("%s of %s is %s", s.path_text, s.url, value == false and "false" or "missing")
    end
  end
end

-- The probe is the http entry itself, with the verdict as its accept
-- function: a response that does not pass fails the entry, so a resumed
-- run probes again instead of replaying a bad answer.
local function run_http(s)
  return api.step(s.name, function()
    return attempts_loop(s, function()
      local r = api.http.request{ url = s.url, method = s.method, headers = s.headers,
                                  body = s.body, timeout = s.timeout, insecure = s.insecure,
                                  decode = s.json_path and "json" or nil,
                                  accept = function(res)
                                    local why = http_verdict(s, res)
                                    return why == nil, why
                                  end }
      return { ok = true, name = s.name, url = s.url, status = r.status,
               value = s.json_path and dig(r.json, s.json_path) or nil }
    end)
  end)
end

-- checks.http{ url, expect_status = 200, retries = 3, interval = "2s",
--   timeout = "5s", contains =, json_path =, equals =, method =, headers =,
--   body =, name = } -> { ok, name, url, status, value, attempts }
function M.http(o)
  return run_http(argcheck.guard("checks.http", 2, http_spec, o))
end

-- ---- checks.command ----

local function command_spec(o, fname)
  if type(o) ~= "table" then bad("opts", "a table like { argv = { \"make\", \"smoke\" } } expected") end
  local s = { argv = argv_arg("argv", o.argv or o[1]) }
  s.name = opt_string("name", o.name) or table.concat(s.argv, " ")
  s.expect_code = whole("expect_code", o.expect_code, 0, 0)
  s.retries = whole("retries", o.retries, 0, 0)
  s.interval = duration("interval", o.interval, "2s")
  if o.timeout ~= nil then s.timeout = duration("timeout", o.timeout) end
  s.contains = opt_string("contains", o.contains)
  s.cwd = opt_string("cwd", o.cwd)
  if o.env ~= nil and type(o.env) ~= "table" then bad("env", "a table expected") end
  s.env = o.env
  -- secret_output: what the command prints is a secret (a new credential):
  -- the journal keeps its hash, the check runs again when a resumed run
  -- reaches it (docs/secrets.md).
  s.secret_output = o.secret_output and true or nil
  s.fields = { argv = s.argv }
  s.fname = fname
  return s
end

local function run_command(s)
  return api.step{ s.name, secret_output = s.secret_output, function()
    return attempts_loop(s, function()
      local r = api.exec(s.argv, { check = false, cwd = s.cwd, env = s.env, timeout = s.timeout,
        secret_output = s.secret_output,
        accept = function(res)
          if res.code ~= s.expect_code then
            local out = (res.stderr ~= "" and res.stderr) or res.stdout or ""
            return false, string.format("%s exited %d, expected %d: %s", s.argv[1], res.code,
              s.expect_code, short(out:gsub("%s+$", ""), 300))
          end
          if s.contains and not (res.stdout or ""):find(s.contains, 1, true) then
            return false, string.format("the output of %s does not contain '%s'", s.argv[1], s.contains)
          end
          return true
        end })
      return { ok = true, name = s.name, argv = s.argv, code = r.code, stdout = short(r.stdout, 4000) }
    end)
  end }
end

-- checks.command{ argv, expect_code = 0, retries = 0, interval = "2s",
--   timeout =, contains =, cwd =, env =, name =, secret_output = }
--   -> { ok, name, argv, code, stdout, attempts }
function M.command(o)
  return run_command(argcheck.guard("checks.command", 2, command_spec, o, "checks.command"))
end

-- ---- checks.command_from_config ----

local function configured(name)
  if type(name) ~= "string" or name == "" then bad("name", "the name of a command in summit.lua's commands") end
  local cfg = config.current or {}
  local cmds = type(cfg.commands) == "table" and cfg.commands or {}
  local argv = cmds[name]
  if argv == nil then
    bad("name", string.format("commands.%s is not configured in %s (it defines: %s)", name,
      config.path or "summit.lua (none was found)", argcheck.known(cmds)))
  end
  return argv
end

local function config_spec(name, o)
  local argv = configured(name)
  if o ~= nil and type(o) ~= "table" then bad("opts", "a table expected") end
  local c = {}
  for k, v in pairs(o or {}) do c[k] = v end
  c.argv = {}
  for i, a in ipairs(argv) do c.argv[i] = a end
  for _, a in ipairs(c.args or {}) do c.argv[#c.argv + 1] = a end
  c.args = nil
  c.name = c.name or name
  return command_spec(c, "checks.command_from_config")
end

-- checks.command_from_config(name [, opts]): checks.command with the argv
-- of summit.lua's commands[name]; opts.args are appended to it.
function M.command_from_config(name, o)
  return run_command(argcheck.guard("checks.command_from_config", 2, config_spec, name, o))
end

-- ---- checks.suite ----

-- One suite item: { name, fn } | { name, spec } | { name = , fn = } |
-- { name = , url = ... } | { name = , argv = ... } | { name = , command = "smoke" }.
local function item_spec(i, it)
  local where = "checks[" .. i .. "]"
  if type(it) ~= "table" then bad(where, "a table like { \"name\", fn } expected") end
  local name = it.name or it[1]
  if type(name) ~= "string" or name == "" then bad(where .. ".name", "a non-empty string expected") end
  local body = it.fn or it[2]
  if type(body) == "function" then return { name = name, fn = body } end
  local spec = type(body) == "table" and body or it
  local function sub(fn, ...)
    local ok, r = pcall(fn, ...)
    if not ok then
      if argcheck.is_bad(r) then bad(where .. "." .. r.arg, r.msg) end
      error(r, 0)
    end
    return r
  end
  local s = {}
  for k, v in pairs(spec) do if type(k) ~= "number" or spec ~= it then s[k] = v end end
  s.name = s.name or name
  if s.url then return { name = name, run = run_http, spec = sub(http_spec, s) } end
  if s.argv then return { name = name, run = run_command, spec = sub(command_spec, s, "checks.suite") } end
  if s.command then
    local c = s.command
    s.command = nil
    return { name = name, run = run_command, spec = sub(config_spec, c, s) }
  end
  bad(where, "'" .. name .. "' needs a function, or a spec with url, argv or command")
end

local function suite_spec(name, list)
  if type(name) == "table" and list == nil then name, list = list, name end
  if name ~= nil and (type(name) ~= "string" or name == "") then bad("name", "a non-empty string expected") end
  if type(list) ~= "table" or #list == 0 then bad("checks", "a non-empty list of checks expected") end
  local items, seen = {}, {}
  for i, it in ipairs(list) do
    items[i] = item_spec(i, it)
    if seen[items[i].name] then bad("checks[" .. i .. "].name", "'" .. items[i].name .. "' appears twice") end
    seen[items[i].name] = true
  end
  return name or list.name or "checks", items
end

-- checks.suite([name,] { {name, fn or spec}, ... }) -> { ok, name, results }
-- Runs every check (each its own step), then fails with ECHECK naming the
-- ones that did not pass; err.results holds every result.
function M.suite(name, list)
  local sname, items = argcheck.guard("checks.suite", 2, suite_spec, name, list)
  return api.step("suite " .. sname, function()
    local results, failed = {}, {}
    for i, it in ipairs(items) do
      local ok, r
      if it.fn then
        ok, r = pcall(api.step, it.name, it.fn)
      else
        ok, r = pcall(it.run, it.spec)
      end
      if ok then
        results[i] = { name = it.name, ok = true, result = r }
        api.log.info("suite %s: %s passed", sname, it.name)
      else
        local e = errors.normalize(r)
        if e.code == "ECANCELED" then error(e, 0) end
        results[i] = { name = it.name, ok = false, error = { code = e.code, message = tostring(e.message) } }
        failed[#failed + 1] = it.name
        api.log.error("suite %s: %s FAILED: %s", sname, it.name, tostring(e.message))
      end
    end
    if #failed > 0 then
      error(errors.new("ECHECK", string.format("suite '%s': %d of %d checks failed: %s", sname,
        #failed, #items, table.concat(failed, ", ")), { suite = sname, failed = failed, results = results }), 0)
    end
    return { ok = true, name = sname, results = results }
  end)
end

return M
