-- summit.test: the API of *_test.lua files, run by `summit test`
-- (docs/testing.md, core/cli/test.c). A case starts runbooks as
-- `summit run NAME --detach` would, in this process, in a state directory
-- of its own, on the simulated clusters of the nearest summit.lua with the
-- case's scenario knobs laid over theirs, under a virtual clock: sleeps,
-- canary intervals and timeouts are skipped, not waited for. A run that
-- stops at an approval gate is answered by the case's named approvers
-- through `summit approve` and resumed; a run can be killed right after any
-- journal record, as by SIGKILL, and resumed in a fresh Lua state.
--
--   local t = require("summit.test")
--   t.case("a clean deploy", function(ctx)
--     local run = ctx:run("deploy", { version = "v2.0.0" },
--                         { approve = { canary = "alice", production = { "alice", "bob" } } })
--     t.eq(run.status, "succeeded")
--     t.eq(ctx:image("summit-production", "web"), "registry/web:v2.0.0")
--   end)
local C = require("summit.c.test")
local json = require("summit.json")

local M = {}

-- A case's clock starts here unless it says otherwise (t.case's `at`): a
-- Tuesday morning, inside business hours and outside any year-end freeze,
-- so a test means the same whatever day it runs.
M.DEFAULT_START = "2026-03-10T10:00:00Z"

-- A killed run's lease must lapse before it can be resumed: the clock
-- moves on by this much (more than the default lease of 30 s).
local LEASE_LAPSE_MS = 31000

local cases = {}       -- of the file being run
local test_file        -- its path, as its chunk names it ("@" .. path)

-- ---- failures ----------------------------------------------------------

local Failure = {}
Failure.__index = Failure
Failure.__tostring = function(f) return f.message end

-- file:line of the innermost frame in the test file (where the case
-- called the assertion, or summit.test's method that failed).
local function where()
  for level = 2, 60 do
    local info = debug.getinfo(level, "Sl")
    if not info then break end
    if info.source == test_file and info.currentline > 0 then
      return info.source:sub(2) .. ":" .. info.currentline
    end
  end
  return nil
end

local function fail(message)
  error(setmetatable({ message = message, where = where() }, Failure), 0)
end
M.fail = fail

local function show(v)
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) == "table" then
    local ok, s = pcall(json.encode, v)
    if ok then return s end
  end
  return tostring(v)
end

local function deep_eq(a, b)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" then return false end
  for k, v in pairs(a) do
    if not deep_eq(v, b[k]) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

local function label(what) return what and (what .. ": ") or "" end

-- eq(actual, expected [, what]): equal values (tables compared deeply).
function M.eq(actual, expected, what)
  if not deep_eq(actual, expected) then
    fail(label(what) .. "expected " .. show(expected) .. ", got " .. show(actual))
  end
  return actual
end

-- ok(v [, what]): v is neither nil nor false.
function M.ok(v, what)
  if not v then fail(label(what) .. "expected a true value, got " .. show(v)) end
  return v
end

-- gt(actual, bound [, what]) / lt: actual > bound, actual < bound.
function M.gt(actual, bound, what)
  if not (type(actual) == "number" and actual > bound) then
    fail(label(what) .. "expected more than " .. show(bound) .. ", got " .. show(actual))
  end
  return actual
end

function M.lt(actual, bound, what)
  if not (type(actual) == "number" and actual < bound) then
    fail(label(what) .. "expected less than " .. show(bound) .. ", got " .. show(actual))
  end
  return actual
end

-- has(text, part [, what]): text contains part (plain text, not a pattern).
function M.has(text, part, what)
  if type(text) ~= "string" or not text:find(part, 1, true) then
    fail(label(what) .. "expected " .. show(part) .. " in " .. show(text))
  end
  return text
end

-- match(text, pattern [, what]): a Lua pattern matches text.
function M.match(text, pattern, what)
  if type(text) ~= "string" or not text:match(pattern) then
    fail(label(what) .. "expected a match of " .. show(pattern) .. " in " .. show(text))
  end
  return text
end

-- ---- durations and times -------------------------------------------------

local UNIT = { ms = 1, s = 1000, m = 60000, h = 3600000, d = 86400000 }

-- "1h30m", "5m", "500ms" or a number of seconds -> ms.
local function duration_ms(d)
  if type(d) == "number" then return d * 1000 end
  local total, rest = 0, tostring(d)
  while rest ~= "" do
    local n, u, tail = rest:match("^(%d+%.?%d*)(%a+)(.*)$")
    if not n or not UNIT[u] then fail("not a duration: " .. show(d)) end
    total, rest = total + tonumber(n) * UNIT[u], tail
  end
  return total
end

-- "YYYY-MM-DDTHH:MM:SSZ" -> ms since the epoch (UTC).
local function rfc3339_ms(s)
  local y, mo, d, h, mi, se = tostring(s):match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)Z$")
  if not y then fail("not a UTC time (YYYY-MM-DDTHH:MM:SSZ): " .. show(s)) end
  y, mo = tonumber(y), tonumber(mo)
  if mo <= 2 then y, mo = y - 1, mo + 12 end
  -- days from the civil date (Howard Hinnant's algorithm), epoch 1970-01-01
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local doy = math.floor((153 * (mo - 3) + 2) / 5) + tonumber(d) - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  local days = era * 146097 + doe - 719468
  return ((days * 24 + tonumber(h)) * 60 + tonumber(mi)) * 60000 + tonumber(se) * 1000
end

-- ---- runs ------------------------------------------------------------------

local Run = {}
Run.__index = Run

local function lines_json(text)
  local out = {}
  for line in text:gmatch("[^\n]+") do
    local ok, v = pcall(json.decode, line)
    if ok and type(v) == "table" then out[#out + 1] = v end
  end
  return out
end

-- The run's journal, every record in order: { key, state, attempt, kind,
-- name, site, note, error, ts } (summit log RUN --json).
function Run:journal()
  local code, out = self.ctx:summit({ "log", self.id, "--json" })
  if code ~= 0 then fail("summit log " .. self.id .. ": " .. out) end
  return lines_json(out)
end

-- summit status RUN --json, read now: status, result, entries, waits, ...
function Run:info()
  local code, out = self.ctx:summit({ "status", self.id, "--json" })
  if code ~= 0 then fail("summit status " .. self.id .. ": " .. out) end
  return json.decode(out)
end

-- What run() returned (nil until the run has succeeded).
function Run:result() return self:info().result end

-- The newest record of the entry named name (a step, an exec, ...), or nil.
function Run:entry(name)
  local found
  for _, r in ipairs(self:journal()) do
    if r.name == name then found = r end
  end
  return found
end

-- The names of the entries whose names match the Lua pattern, in the
-- order they were first journaled.
function Run:entries(pattern)
  local names, seen = {}, {}
  for _, r in ipairs(self:journal()) do
    if r.name and r.name:find(pattern) and not seen[r.key] then
      seen[r.key] = true
      names[#names + 1] = r.name
    end
  end
  return names
end

-- The audit records of the run (summit audit export --run RUN); with an
-- action, the newest record of that action (nil if none).
function Run:audit(action)
  local code, out = self.ctx:summit({ "audit", "export", "--run", self.id })
  if code ~= 0 then fail("summit audit export: " .. out) end
  local records = lines_json(out)
  if action == nil then return records end
  local found
  for _, r in ipairs(records) do
    if r.action == action then found = r end
  end
  return found
end

-- Everything the run's commands printed so far.
function Run:output() return table.concat(self.outputs, "") end

local function newest_run(ctx)
  local _, out = ctx:summit({ "runs", "--json" })
  local runs = lines_json(out)
  return runs[1] and runs[1].run
end

-- approve(gate, who [, comment]) -> exit code, output of summit approve
-- RUN --gate gate as who. The run goes on at the next resume.
function Run:approve(gate, who, comment)
  local args = { "approve", self.id, "--gate", gate }
  if comment then args[#args + 1] = "--comment"; args[#args + 1] = comment end
  local code, out = self.ctx:summit(args, who)
  self.outputs[#self.outputs + 1] = out
  return code, out
end

function Run:reject(gate, who, comment)
  local code, out = self.ctx:summit({ "reject", self.id, "--gate", gate, "--comment",
                                      comment or ("rejected by " .. who) }, who)
  self.outputs[#self.outputs + 1] = out
  return code, out
end

-- advance(d): the clock moves on by d ("2h", seconds) while nothing runs
-- (a suspended run's gate deadline passes, a killed run's lease lapses).
function Run:advance(d) C.clock(duration_ms(d)) end

-- The gates the run waits at that the case's approvers answer and have
-- not answered yet: approves them; true if any was.
function Run:answer_gates()
  local any = false
  for _, w in ipairs(self:info().waits or {}) do
    local who = w.gate and self.approvers[w.gate]
    if type(who) == "string" then who = { who } end
    for _, name in ipairs(who or {}) do
      local k = table.concat({ w.gate, tostring(w.key), tostring(w.attempt), name }, "\0")
      if not self.answered[k] then
        self.answered[k] = true
        local code, out = self:approve(w.gate, name)
        if code ~= 0 then fail(string.format("%s could not approve gate %q: %s", name, w.gate, out)) end
        any = true
      end
    end
  end
  return any
end

-- Keys completed before a kill that started again after it: a completed
-- step must replay its result, never run twice.
local function reran(before, after)
  local done = {}
  for _, r in ipairs(before) do
    if r.state == "completed" then done[r.key] = r.name or r.key end
  end
  for i = #before + 1, #after do
    local r = after[i]
    if r.state == "started" and done[r.key] then return done[r.key] end
  end
end

-- One command of the run (run or resume), then the gates its approvers
-- answer, resumed until it stops for something else.
function Run:drive(args, kill_at)
  for _ = 1, 100 do
    C.arm(kill_at, self.scenario)
    local code, out = self.ctx:summit(args, self.user)
    local killed = C.arm(nil, nil)
    self.code = code
    self.outputs[#self.outputs + 1] = out
    if self.ctx.verbose then io.write(out) end
    self.id = self.id or newest_run(self.ctx)
    if not self.id then fail("no run was created: " .. out) end
    if #self.kills > 0 then   -- every later command, against every kill
      local now = self:journal()
      for _, before in ipairs(self.kills) do
        local name = reran(before, now)
        if name then fail("entry " .. show(name) .. " completed before a kill and ran again after it") end
      end
    end
    if killed then
      self.status = "killed"
      self.kills[#self.kills + 1] = self:journal()
      C.clock(LEASE_LAPSE_MS)
      return self
    end
    self.status = self:info().status
    if self.status ~= "suspended" or not self:answer_gates() then return self end
    -- kill_at counts the run's records: it may come after a gate
    args = { "resume", self.id, "--detach", "--durability", "process" }
  end
  fail("the run kept stopping at gates (100 resumes)")
end

-- resume{ kill_at = N, upgrade = true, retry = true, skip = true }: summit
-- resume RUN, then as run does.
function Run:resume(o)
  o = o or {}
  local args = { "resume", self.id, "--detach", "--durability", "process" }
  if o.upgrade then args[#args + 1] = "--upgrade" end
  if o.retry then args[#args + 1] = "--retry" end
  if o.skip then args[#args + 1] = "--skip" end
  return self:drive(args, o.kill_at)
end

-- ---- a case's context ------------------------------------------------------

local Ctx = {}
Ctx.__index = Ctx

-- summit(args [, user]) -> exit code, output: any summit command (run,
-- resume, approve, reject, status, log, result, runs, cancel, validate,
-- audit, locks) on this case's state.
function Ctx:summit(args, user)
  C.env("SUMMIT_STATE_DIR", self.state_dir)
  return C.summit(args, user or self.user)
end

local function new_ctx(verbose)
  local dir = C.tmpdir()
  return setmetatable({ state_dir = dir .. "/state", dir = dir, verbose = verbose,
                        user = "summit-test", others = {} }, Ctx)
end

-- fresh() -> a second context in the same case: a state and a cluster of
-- its own (to find a journal record in one run, then kill another there).
function Ctx:fresh()
  local c = new_ctx(self.verbose)
  self.others[#self.others + 1] = c
  return c
end

local function sorted_keys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  table.sort(ks)
  return ks
end

-- run(name, params, opts) -> run: summit run NAME -p k=v ... --detach.
-- opts: approve = { gate = "who" | { "who", ... } }, scenario = { knobs },
-- kill_at = N (kill after the run's journal record N), env = NAME,
-- user = who starts it.
-- run.status is the run's status when it stopped ("succeeded", "failed",
-- "suspended" at a gate nobody answered, "killed", ...), run.code the
-- exit code of its last command.
function Ctx:run(name, params, opts)
  opts = opts or {}
  -- A kill here is a process's, so commits need not survive a power cut.
  local args = { "run", name, "--detach", "--durability", "process" }
  for _, k in ipairs(sorted_keys(params or {})) do
    args[#args + 1] = "-p"
    args[#args + 1] = k .. "=" .. tostring(params[k])
  end
  if opts.env then args[#args + 1] = "--env"; args[#args + 1] = opts.env end
  local run = setmetatable({
    ctx = self, outputs = {}, answered = {}, approvers = opts.approve or {}, kills = {},
    scenario = opts.scenario and json.encode(opts.scenario) or nil, user = opts.user,
  }, Run)
  return run:drive(args, opts.kill_at)
end

-- The simulated cluster's objects as the last run left them.
function Ctx:objects(resource, namespace, cluster)
  local f = io.open(self.state_dir .. "/sim-" .. (cluster or "sim") .. ".json", "rb")
  if not f then return {} end
  local state = json.decode(f:read("*a"))
  f:close()
  local out = {}
  for _, o in ipairs((state.objects or {})[resource] or {}) do
    if namespace == nil or o.metadata.namespace == namespace then out[#out + 1] = o end
  end
  return out
end

-- object(resource, namespace, name [, cluster]) -> the object, or nil.
function Ctx:object(resource, namespace, name, cluster)
  for _, o in ipairs(self:objects(resource, namespace, cluster)) do
    if o.metadata.name == name then return o end
  end
  return nil
end

-- The image of a Deployment's first container.
function Ctx:image(namespace, name, cluster)
  local d = self:object("deployments", namespace, name, cluster)
  return d and d.spec.template.spec.containers[1].image
end

-- The virtual clock now, in ms since the epoch.
function Ctx:now() return (C.clock(0)) end

-- ---- cases and files ---------------------------------------------------------

-- case(name, fn [, { at = "YYYY-MM-DDTHH:MM:SSZ" }]): a test; fn(ctx).
function M.case(name, fn, opts)
  if type(name) ~= "string" or type(fn) ~= "function" then
    error("summit.test.case(name, function(ctx) ... end)", 2)
  end
  cases[#cases + 1] = { name = name, fn = fn, opts = opts or {} }
end

-- A Lua error: where is the test file's line, and its message loses that
-- same "file:line: " prefix so it is not said twice.
local function traceback_failure(e)
  if getmetatable(e) == Failure then return e end
  local at, message = where(), tostring(e)
  if at and message:sub(1, #at + 2) == at .. ": " then message = message:sub(#at + 3) end
  return setmetatable({ message = message, where = at, trace = debug.traceback("", 2) }, Failure)
end

local function run_case(c, verbose)
  C.clock(nil, rfc3339_ms(c.opts.at or M.DEFAULT_START))
  local ctx = new_ctx(verbose)
  local _, wall0 = C.clock()
  local ok, f = xpcall(c.fn, traceback_failure, ctx)
  local _, wall1 = C.clock()
  C.env("SUMMIT_STATE_DIR", nil)
  if ok then
    print(string.format("ok   %s (%.1f s)", c.name, (wall1 - wall0) / 1000))
    for _, o in ipairs(ctx.others) do C.rmtree(o.dir) end
    C.rmtree(ctx.dir)
    return true
  end
  local at = f.where and (" (" .. f.where .. ")") or ""
  print("FAIL " .. c.name .. at .. ": " .. f.message)
  if verbose and f.trace then print(f.trace) end
  print("     its state is kept in " .. ctx.state_dir)
  return false
end

-- run_file(path, verbose) -> passed, failed: loads a test file (its cases
-- run in its directory, so the nearest summit.lua above it is theirs).
function M.run_file(path, verbose)
  cases, test_file = {}, "@" .. path
  local chunk, err = loadfile(path)
  if not chunk then
    print("FAIL " .. path .. ": " .. tostring(err))
    return 0, 1
  end
  local ok, lerr = xpcall(chunk, traceback_failure)
  if not ok then
    print("FAIL " .. path .. (lerr.where and (" (" .. lerr.where .. ")") or "") .. ": " .. lerr.message)
    return 0, 1
  end
  local passed, failed = 0, 0
  local back = C.chdir(path:match("^(.*)/[^/]*$") or ".")
  for _, c in ipairs(cases) do
    if run_case(c, verbose) then passed = passed + 1 else failed = failed + 1 end
  end
  C.chdir(back)
  if #cases == 0 then
    print("FAIL " .. path .. ": no cases (t.case(name, function(ctx) ... end))")
    failed = failed + 1
  end
  return passed, failed
end

return M
