-- The simulated cluster's application metrics (docs/sim.md "Metrics"):
-- per ready pod, request counters, a latency histogram, database query
-- times, CPU and memory, all computed from the scenario's `metrics` knobs
-- and the sim's (scaled) clock, so they need no storage and a restarted
-- sim continues them. Served two ways:
--
--   GET /metrics               Prometheus text exposition format 0.0.4,
--                              for a real Prometheus to scrape
--   GET|POST /api/v1/query     Prometheus's HTTP API for a small,
--   GET|POST /api/v1/query_range  documented set of query shapes (promql.SHAPES)
--
-- The query evaluator (sim/promql.lua) is deliberately small: a selector,
-- rate() and increase() of one, sum/avg/min/max/count with by/without,
-- arithmetic between those and numbers (one-to-one matching on all
-- labels), and histogram_quantile(). Anything else is answered as
-- Prometheus answers a query it cannot run: 400
-- {"status":"error","errorType":"bad_data"}. This file serves its answers.
--
-- Counters are functions of the simulated seconds since a pod became
-- ready: each traffic stream runs at its mean rate times a slow wave
-- (1 + variation * sin(2 pi s / period + phase)), whose integral has a
-- closed form; the phase comes from the pod's uid. A pod behind a route
-- has a rate history instead of one rate (sim/traffic.lua), integrated
-- segment by segment. Counts are floored to whole requests. A pod that is
-- not ready has no series.

local U = require("summit.sim.util")
local promql = require("summit.sim.promql")
local TRAFFIC = require("summit.sim.traffic")

-- Sample values and label sets as Prometheus has them.
local format_value = promql.format_value
local with = promql.labels_with

local M = {}

-- ---- knobs ---------------------------------------------------------------------

-- What one pod's traffic looks like; `tracks` and `images` override these
-- per pod (see docs/sim.md).
M.PROFILE = {
  requests_per_second = 10,        -- per ready pod, per simulated second
  error_rate = 0.001,              -- fraction of requests answered 500
  latency_seconds = 0.05,          -- median request latency
  latency_factor = 1,              -- multiplies latency_seconds
  latency_spread = 0.35,           -- sigma of ln(latency) (log-normal)
  slow_fraction = 0.05,            -- share of requests in a slow mode ...
  slow_factor = 4,                 -- ... whose median is this many times slower
  db_queries_per_request = 2,
  db_latency_seconds = 0.004,      -- median database query time
  db_latency_factor = 1,
  cpu_cores = 0.25,                -- mean CPU use of a ready pod
  cpu_factor = 1,
  memory_bytes = 256 * 1024 * 1024,  -- mean working set of a ready pod
  memory_factor = 1,
  memory_growth_bytes_per_hour = 0,  -- a leak, per simulated hour since ready
  variation = 0.1,                 -- amplitude of the slow waves (0 = constant)
}

local FRACTIONS = { error_rate = true, slow_fraction = true }

local function check_profile(where, t)
  if type(t) ~= "table" then
    error(string.format("sim scenario: %s must be a table", where), 0)
  end
  for k, v in pairs(t) do
    if M.PROFILE[k] == nil then
      local known = U.keys(M.PROFILE)
      error(string.format("sim scenario: unknown knob %q in %s (known: %s)", tostring(k),
                          where, table.concat(known, ", ")), 0)
    end
    if type(v) ~= "number" or v ~= v or v < 0 or v == math.huge then
      error(string.format("sim scenario: %s.%s must be a number >= 0", where, k), 0)
    end
    if FRACTIONS[k] and v > 1 then
      error(string.format("sim scenario: %s.%s must be between 0 and 1", where, k), 0)
    end
    if k == "variation" and v > 0.9 then
      error(string.format("sim scenario: %s.variation must be between 0 and 0.9", where), 0)
    end
  end
end

-- check(scenario.metrics): raises on an unknown knob or a bad value.
function M.check(m)
  if m == nil or m == U.null then return end
  if type(m) ~= "table" then error("sim scenario: metrics must be a table", 0) end
  local base = {}
  for k, v in pairs(m) do
    if k ~= "tracks" and k ~= "images" then base[k] = v end
  end
  check_profile("metrics", base)
  for _, sec in ipairs({ "tracks", "images" }) do
    local t = m[sec]
    if t ~= nil and t ~= U.null then
      if type(t) ~= "table" then error(string.format("sim scenario: metrics.%s must be a table", sec), 0) end
      for name, prof in pairs(t) do
        check_profile(string.format("metrics.%s[%q]", sec, tostring(name)), prof)
      end
    end
  end
end

-- The knobs of a pod: defaults, then scenario.metrics, then its track's,
-- then the first image glob (in sorted order) that matches its image.
local function profile(m, track, image)
  local p = {}
  for k, v in pairs(M.PROFILE) do p[k] = v end
  local function over(t)
    if type(t) ~= "table" then return end
    for k, v in pairs(t) do
      if M.PROFILE[k] ~= nil then p[k] = v end
    end
  end
  m = type(m) == "table" and m or {}
  over(m)
  if type(m.tracks) == "table" then over(m.tracks[track]) end
  if type(m.images) == "table" and image then
    for _, glob in ipairs(U.keys(m.images)) do
      if U.glob(glob, image) then over(m.images[glob]) break end
    end
  end
  return p
end

-- ---- maths ------------------------------------------------------------------------

-- The standard normal CDF, via erf (Abramowitz and Stegun 7.1.26, error
-- below 1.5e-7).
local function phi(x)
  local z = math.abs(x) / math.sqrt(2)
  local t = 1 / (1 + 0.3275911 * z)
  local y = 1 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t
    - 0.284496736) * t + 0.254829592) * t * math.exp(-z * z)
  if x >= 0 then return 0.5 * (1 + y) end
  return 0.5 * (1 - y)
end

-- P(latency <= le) for a log-normal with median m and sigma sd.
local function lognormal_cdf(le, m, sd)
  if le == math.huge then return 1 end
  if le <= 0 then return 0 end
  return phi(math.log(le / m) / sd)
end

-- The integral over [0, s] of (1 + a sin(2 pi x / P + ph)) dx.
local function wave(s, a, P, ph)
  if s <= 0 then return 0 end
  local w = 2 * math.pi / P
  return s + a / w * (math.cos(ph) - math.cos(w * s + ph))
end

local function phase(pod_uid, stream)
  return 2 * math.pi * (U.fnv32a(tostring(pod_uid) .. ":" .. stream) % 3600) / 3600
end

-- Periods of the waves, in simulated seconds.
local P_OK, P_SLOW, P_ERR, P_CPU, P_MEM = 300, 170, 230, 400, 600

M.LATENCY_BUCKETS = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 }
M.DB_BUCKETS = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1 }
local DB_SPREAD = 0.5

-- ---- the pods at a time ----------------------------------------------------------------

local function ready_since(pod)
  for _, c in ipairs(U.dig(pod, { "status", "conditions" }) or {}) do
    if c.type == "Ready" then
      return c.status == "True" and U.parse_time(c.lastTransitionTime) or nil
    end
  end
  return nil
end

local function app_of(store, pod)
  local app = U.dig(pod, { "metadata", "labels", "app" })
  if app then return tostring(app) end
  for _, r in ipairs(U.dig(pod, { "metadata", "ownerReferences" }) or {}) do
    if r.kind == "ReplicaSet" then
      local rs = store:get("replicasets", pod.metadata.namespace, r.name)
      for _, o in ipairs(rs and U.dig(rs, { "metadata", "ownerReferences" }) or {}) do
        if o.kind == "Deployment" then return o.name end
      end
      return r.name
    end
  end
  return pod.metadata.name
end

-- The ready pods with what their series need; cached per request.
local function pods_of(sim)
  local out = {}
  local m = sim.scenario.metrics
  for _, pod in ipairs(sim.store:list("pods")) do
    local since = ready_since(pod)
    if since then
      local c1 = U.dig(pod, { "spec", "containers", 1 }) or {}
      local track = tostring(U.dig(pod, { "metadata", "labels", "track" }) or "stable")
      local uid = pod.metadata.uid or pod.metadata.name
      out[#out + 1] = {
        since = since, uid = uid, segs = TRAFFIC.segments(sim, uid),
        p = profile(m, track, c1.image),
        labels = { namespace = pod.metadata.namespace, app = app_of(sim.store, pod),
                   track = track, pod = pod.metadata.name },
        container = c1.name or "app",
        ph = { ok = phase(uid, "ok"), slow = phase(uid, "slow"), err = phase(uid, "err"),
               cpu = phase(uid, "cpu"), mem = phase(uid, "mem") },
      }
    end
  end
  return out
end

-- The requests of pod c in its first s simulated seconds of readiness on
-- the wave of period P and phase ph: its own rate throughout, or, when
-- routes set its rate (sim/traffic.lua), the sum over the segments of its
-- rate history.
local function requests(c, s, scale, P, ph)
  local p = c.p
  if not c.segs then return p.requests_per_second * wave(s, p.variation, P, ph) end
  local n, segs = 0, c.segs
  for i, seg in ipairs(segs) do
    local from = math.max(0, (seg[1] - c.since) / 1000 * scale)
    local to = segs[i + 1] and math.min(s, (segs[i + 1][1] - c.since) / 1000 * scale) or s
    if to > from then
      local r = seg[2] == TRAFFIC.OWN and p.requests_per_second or seg[2]
      n = n + r * (wave(to, p.variation, P, ph) - wave(from, p.variation, P, ph))
    end
  end
  return n
end

-- own_rps(sim) -> function(pod): the requests per second a pod serves
-- without routes (its profile's), what a route's demand adds up.
function M.own_rps(sim)
  return function(pod)
    local c1 = U.dig(pod, { "spec", "containers", 1 }) or {}
    local track = tostring(U.dig(pod, { "metadata", "labels", "track" }) or "stable")
    return profile(sim.scenario.metrics, track, c1.image).requests_per_second
  end
end

-- Traffic of pod c after s simulated seconds of readiness.
local function traffic(c, s, scale)
  local p = c.p
  local e, f = p.error_rate, p.slow_fraction
  local n_err = e * requests(c, s, scale, P_ERR, c.ph.err)
  local n_fast = (1 - e) * (1 - f) * requests(c, s, scale, P_OK, c.ph.ok)
  local n_slow = (1 - e) * f * requests(c, s, scale, P_SLOW, c.ph.slow)
  local ok, bad = math.floor(n_fast + n_slow), math.floor(n_err)
  return { fast = n_fast + n_err, slow = n_slow, ok = ok, err = bad, count = ok + bad }
end

local function le_text(le)
  if le == math.huge then return "+Inf" end
  return format_value(le)
end

-- Histogram series (bucket, sum, count) of one pod from the expected
-- counts in two log-normal modes.
local function histogram(out, name, labels, modes, count, bounds)
  local part = out[name .. "_bucket"]
  for _, le in ipairs(bounds) do
    local x = 0
    for _, md in ipairs(modes) do x = x + md.n * lognormal_cdf(le, md.m, md.sd) end
    part[#part + 1] = { labels = with(labels, "le", le_text(le)),
                        value = math.min(count, math.floor(x)) }
  end
  part[#part + 1] = { labels = with(labels, "le", "+Inf"), value = count }
  local sum = 0
  for _, md in ipairs(modes) do sum = sum + md.n * md.m * math.exp(md.sd * md.sd / 2) end
  local ss, sc = out[name .. "_sum"], out[name .. "_count"]
  ss[#ss + 1] = { labels = with(labels), value = sum }
  sc[#sc + 1] = { labels = with(labels), value = count }
end

-- The families, in exposition order: name, type, help.
M.FAMILIES = {
  { "http_requests_total", "counter", "HTTP requests served, by status code." },
  { "http_request_duration_seconds", "histogram", "HTTP request latency in seconds." },
  { "db_query_duration_seconds", "histogram", "Database query time in seconds." },
  { "container_cpu_usage_seconds_total", "counter", "Cumulative CPU time consumed in seconds." },
  { "container_memory_working_set_bytes", "gauge", "Current working set in bytes." },
}

-- Every series name the sim has (histograms by their three names).
local NAMES = {}
for _, f in ipairs(M.FAMILIES) do
  if f[2] == "histogram" then
    for _, suf in ipairs({ "_bucket", "_sum", "_count" }) do NAMES[f[1] .. suf] = f[1] end
  else
    NAMES[f[1]] = f[1]
  end
end

-- series(sim, t_ms [, pods]) -> { [series name] = { {labels, value}, ... } }
-- for every family, at real time t_ms.
function M.series(sim, t_ms, pods)
  pods = pods or pods_of(sim)
  local out = {}
  for n in pairs(NAMES) do out[n] = {} end
  local scale = sim.time_scale or 1
  for _, c in ipairs(pods) do
    if c.since <= t_ms then
      local s = (t_ms - c.since) / 1000 * scale
      local p = c.p
      local tr = traffic(c, s, scale)
      local req = out.http_requests_total
      req[#req + 1] = { labels = with(c.labels, "code", "200"), value = tr.ok }
      req[#req + 1] = { labels = with(c.labels, "code", "500"), value = tr.err }
      local m = p.latency_seconds * p.latency_factor
      local sd = p.latency_spread > 0 and p.latency_spread or 1e-9
      histogram(out, "http_request_duration_seconds", c.labels,
        { { n = tr.fast, m = m, sd = sd }, { n = tr.slow, m = m * p.slow_factor, sd = sd } },
        tr.count, M.LATENCY_BUCKETS)
      local nq = (tr.fast + tr.slow) * p.db_queries_per_request
      histogram(out, "db_query_duration_seconds", c.labels,
        { { n = nq, m = p.db_latency_seconds * p.db_latency_factor, sd = DB_SPREAD } },
        math.floor(nq), M.DB_BUCKETS)
      local cl = with(c.labels, "container", c.container)
      local cpu = out.container_cpu_usage_seconds_total
      cpu[#cpu + 1] = { labels = cl,
                        value = p.cpu_cores * p.cpu_factor * wave(s, p.variation, P_CPU, c.ph.cpu) }
      local mem = out.container_memory_working_set_bytes
      local wob = 1 + p.variation / 2 * math.sin(2 * math.pi * s / P_MEM + c.ph.mem)
      mem[#mem + 1] = { labels = with(cl), value = math.floor(p.memory_bytes * p.memory_factor * wob
        + p.memory_growth_bytes_per_hour * s / 3600) }
    end
  end
  return out
end

-- ---- /metrics --------------------------------------------------------------------------

local function escape_label(v)
  return (tostring(v):gsub('[\\"\n]', { ["\\"] = "\\\\", ['"'] = '\\"', ["\n"] = "\\n" }))
end

local function label_text(labels)
  local keys = U.keys(labels)
  -- le last, as client libraries write it.
  table.sort(keys, function(a, b)
    if (a == "le") ~= (b == "le") then return b == "le" end
    return a < b
  end)
  local parts = {}
  for i, k in ipairs(keys) do parts[i] = k .. '="' .. escape_label(labels[k]) .. '"' end
  return "{" .. table.concat(parts, ",") .. "}"
end

-- exposition(sim, t_ms) -> the text a Prometheus scrape gets.
function M.exposition(sim, t_ms)
  local all = M.series(sim, t_ms)
  local lines = {}
  local function emit(name, list)
    for _, s in ipairs(list) do
      lines[#lines + 1] = name .. label_text(s.labels) .. " " .. format_value(s.value)
    end
  end
  for _, f in ipairs(M.FAMILIES) do
    local name, typ, help = f[1], f[2], f[3]
    lines[#lines + 1] = "# HELP " .. name .. " " .. help
    lines[#lines + 1] = "# TYPE " .. name .. " " .. typ
    if typ == "histogram" then
      -- Each series' buckets, sum and count together.
      local b, su, co = all[name .. "_bucket"], all[name .. "_sum"], all[name .. "_count"]
      local nb = #b / math.max(#su, 1)
      for i = 1, #su do
        for j = 1, nb do emit(name .. "_bucket", { b[(i - 1) * nb + j] }) end
        emit(name .. "_sum", { su[i] })
        emit(name .. "_count", { co[i] })
      end
    else
      emit(name, all[name])
    end
  end
  return table.concat(lines, "\n") .. "\n"
end

-- The PromQL evaluator's view of the sim: its series at a time, the ready
-- pods looked up once per query (on its first use of them).
local function source(sim)
  local pods
  return {
    time_scale = sim.time_scale or 1,
    series = function(t_ms)
      pods = pods or pods_of(sim)
      return M.series(sim, t_ms, pods)
    end,
  }
end

-- ---- HTTP ------------------------------------------------------------------------------

local function form_decode(s)
  local t = {}
  for pair in tostring(s or ""):gmatch("[^&]+") do
    local k, v = pair:match("^([^=]*)=?(.*)$")
    local function dec(x)
      return (x:gsub("+", " "):gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
    end
    t[dec(k)] = dec(v)
  end
  return t
end

-- A time parameter: unix seconds (float) or RFC 3339 -> ms; nil if absent.
local function time_param(v, name)
  if v == nil or v == "" then return nil end
  local n = tonumber(v)
  if n and n == n and n ~= math.huge and n ~= -math.huge then return n * 1000 end
  local ms = U.parse_time(v)
  if ms then return ms end
  promql.fail("invalid parameter %q: cannot parse %q to a valid timestamp", name, v)
end

local function step_param(v)
  if v == nil or v == "" then promql.fail("invalid parameter \"step\": cannot parse \"\" to a valid duration") end
  local n = tonumber(v)
  if n then
    if n ~= n or n == math.huge then
      promql.fail("invalid parameter \"step\": cannot parse %q to a valid duration", v)
    end
    return n * 1000
  end
  local ok, secs = pcall(promql.duration_seconds, v)
  if not ok then promql.fail("invalid parameter \"step\": cannot parse %q to a valid duration", v) end
  return secs * 1000
end

local function answer(x, c, code, doc)
  c.code = code
  x:respond(code, { ["Content-Type"] = "application/json" }, U.encode(doc) .. "\n")
end

local function bad_data(x, c, msg)
  answer(x, c, 400, { status = "error", errorType = "bad_data", error = msg })
end

local function query_api(sim, c, x, path)
  local req = c.req
  local params = {}
  for k, v in pairs(req.query or {}) do params[k] = v end
  if req.method == "POST" then
    local ct = (req.headers["content-type"] or ""):lower()
    if ct:find("application/x-www-form-urlencoded", 1, true) then
      for k, v in pairs(form_decode(req.body)) do params[k] = v end
    end
  elseif req.method ~= "GET" then
    c.code = 405
    x:respond(405, { ["Content-Type"] = "text/plain; charset=utf-8", Allow = "GET, POST" },
              "Method Not Allowed\n")
    return
  end
  local q = params.query
  local ok, res = pcall(function()
    if q == nil or q == "" then
      promql.fail("invalid parameter \"query\": unknown position: parse error: "
        .. "no expression found in input")
    end
    if path == "/api/v1/query" then
      local t = time_param(params.time, "time") or U.now_ms()
      return promql.instant(source(sim), q, math.floor(t + 0.5))
    end
    local s = time_param(params.start, "start")
    local e = time_param(params["end"], "end")
    if not s then promql.fail("invalid parameter \"start\": cannot parse \"\" to a valid timestamp") end
    if not e then promql.fail("invalid parameter \"end\": cannot parse \"\" to a valid timestamp") end
    if e < s then promql.fail("end timestamp must not be before start time") end
    local step = step_param(params.step)
    if step <= 0 then
      promql.fail("zero or negative query resolution step widths are not accepted. Try a positive integer")
    end
    if (e - s) / step > 11000 then
      promql.fail("exceeded maximum resolution of 11,000 points per timeseries. "
        .. "Try decreasing the query resolution (?step=XX)")
    end
    return promql.range(source(sim), q, math.floor(s + 0.5), math.floor(e + 0.5), step)
  end)
  if not ok then
    local msg = promql.error_message(res)
    if msg then
      if q and q ~= "" and not msg:find("^invalid parameter") and not msg:find("^end timestamp")
          and not msg:find("^zero or negative") and not msg:find("^exceeded maximum") then
        msg = "invalid parameter \"query\": " .. msg
      end
      return bad_data(x, c, msg)
    end
    error(res, 0)
  end
  answer(x, c, 200, { status = "success", data = res })
end

-- serve(sim, c, path) -> true if path is one of the metrics endpoints
-- (then it has been answered); c = { x, req, code }.
function M.serve(sim, c, path)
  local x = c.x
  if path == "/metrics" then
    if c.req.method ~= "GET" and c.req.method ~= "HEAD" then
      c.code = 405
      x:respond(405, { ["Content-Type"] = "text/plain; charset=utf-8", Allow = "GET" },
                "Method Not Allowed\n")
      return true
    end
    c.code = 200
    x:respond(200, { ["Content-Type"] = "text/plain; version=0.0.4; charset=utf-8" },
              M.exposition(sim, U.now_ms()))
    return true
  end
  if path == "/api/v1/query" or path == "/api/v1/query_range" then
    query_api(sim, c, x, path)
    return true
  end
  return false
end

return M
