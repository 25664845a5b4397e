-- The simulated cluster's application metrics (docs/sim.md "Metrics"):
-- per ready pod, request counters, a latency histogram, database query
-- times, CPU and memory, all computed from the scenario's `metrics` knobs
-- and the sim's (scaled) clock, so they need no storage and a restarted
-- sim continues them. Served two ways:
--
--   GET /metrics               Prometheus text exposition format 0.0.4,
--                              for a real Prometheus to scrape
--   GET|POST /api/v1/query     Prometheus's HTTP API for a small,
--   GET|POST /api/v1/query_range  documented set of query shapes (SHAPES)
--
-- The query evaluator is deliberately small: a selector, rate() and
-- increase() of one, sum/avg/min/max/count with by/without, arithmetic
-- between those and numbers (one-to-one matching on all labels), and
-- histogram_quantile(). Anything else is answered as Prometheus answers
-- a query it cannot run: 400 {"status":"error","errorType":"bad_data"}.
--
-- Counters are functions of the simulated seconds since a pod became
-- ready: each traffic stream runs at its mean rate times a slow wave
-- (1 + variation * sin(2 pi s / period + phase)), whose integral has a
-- closed form; the phase comes from the pod's uid. Counts are floored to
-- whole requests. A pod that is not ready has no series.

local U = require("summit.sim.util")

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
        since = since, uid = uid,
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

local function with(labels, k, v)
  local t = {}
  for lk, lv in pairs(labels) do t[lk] = lv end
  if k then t[k] = v end
  return t
end

-- Traffic of pod c after s simulated seconds of readiness.
local function traffic(c, s)
  local p, a = c.p, c.p.variation
  local R, e, f = p.requests_per_second, p.error_rate, p.slow_fraction
  local n_err = R * e * wave(s, a, P_ERR, c.ph.err)
  local n_fast = R * (1 - e) * (1 - f) * wave(s, a, P_OK, c.ph.ok)
  local n_slow = R * (1 - e) * f * wave(s, a, P_SLOW, c.ph.slow)
  local ok, bad = math.floor(n_fast + n_slow), math.floor(n_err)
  return { fast = n_fast + n_err, slow = n_slow, ok = ok, err = bad, count = ok + bad }
end

local function le_text(le)
  if le == math.huge then return "+Inf" end
  return M.format_value(le)
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
      local tr = traffic(c, s)
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

-- ---- values as Prometheus writes them ------------------------------------------------

-- Go's strconv.FormatFloat(v, 'f', -1, 64): the shortest decimal that
-- reads back as v, never with an exponent; "NaN", "+Inf", "-Inf".
function M.format_value(v)
  if v ~= v then return "NaN" end
  if v == math.huge then return "+Inf" end
  if v == -math.huge then return "-Inf" end
  if v == 0 then return (1 / v < 0) and "-0" or "0" end
  local s
  for prec = 1, 17 do
    s = string.format("%." .. prec .. "g", v)
    if tonumber(s) == v then break end
  end
  local sign, digits, frac, exp = s:match("^(-?)(%d+)%.?(%d*)e([-+]%d+)$")
  if not sign then return s end
  local e = tonumber(exp)
  local all = digits .. frac
  local point = #digits + e
  if point <= 0 then
    s = "0." .. string.rep("0", -point) .. all
  elseif point >= #all then
    s = all .. string.rep("0", point - #all)
  else
    s = all:sub(1, point) .. "." .. all:sub(point + 1)
  end
  s = s:gsub("^0+(%d)", "%1")
  return sign .. s
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
      lines[#lines + 1] = name .. label_text(s.labels) .. " " .. M.format_value(s.value)
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

-- ---- the query language subset -------------------------------------------------------

M.SHAPES = {
  "a selector: M or M{l=\"v\", l!=\"v\", l=~\"re\", l!~\"re\"}",
  "rate(M{...}[w]) and increase(M{...}[w])",
  "sum, avg, min, max, count of those, with by (l, ...) or without (l, ...)",
  "arithmetic (+ - * /) between those and numbers, e.g. sum(rate(A[w])) / sum(rate(B[w]))",
  "histogram_quantile(q, sum by (le) (rate(M_bucket{...}[w])))",
}

local QueryError = {}
local function qerr(fmt, ...)
  error(setmetatable({ message = string.format(fmt, ...) }, QueryError), 0)
end
local function unsupported(what)
  qerr("%s is not supported by the simulated cluster; supported shapes: %s", what,
       table.concat(M.SHAPES, "; "))
end

-- Tokens: {t = "id"|"num"|"str"|"dur"|"op"|"eof", v = text|number, pos}.
local function lex(src)
  local toks, i, n = {}, 1, #src
  local function push(t, v, pos) toks[#toks + 1] = { t = t, v = v, pos = pos } end
  while i <= n do
    local ch = src:sub(i, i)
    if ch:match("%s") then
      i = i + 1
    elseif ch == "#" then
      local e = src:find("\n", i, true) or n
      i = e + 1
    elseif ch:match("[%a_:]") then
      local s, e = src:find("^[%w_:]+", i)
      push("id", src:sub(s, e), i)
      i = e + 1
    elseif ch:match("%d") or (ch == "." and src:sub(i + 1, i + 1):match("%d")) then
      -- A duration right after '[' is lexed by the parser; here numbers.
      local s, e = src:find("^%d*%.?%d*[eE][-+]?%d+", i)
      if not s then s, e = src:find("^%d*%.?%d*", i) end
      local text = src:sub(s, e)
      local rest = src:sub(e + 1):match("^[smhdwy]")
      if rest then
        local ds, de = src:find("^[%dsmhdwy]+", i)
        push("dur", src:sub(ds, de), i)
        i = de + 1
      else
        push("num", tonumber(text), i)
        i = e + 1
      end
    elseif ch == '"' or ch == "'" then
      local buf, j = {}, i + 1
      while true do
        local c = src:sub(j, j)
        if c == "" then qerr("1:%d: parse error: unterminated quoted string", i) end
        if c == ch then break end
        if c == "\\" then
          local nx = src:sub(j + 1, j + 1)
          local map = { n = "\n", t = "\t", r = "\r", ["\\"] = "\\", ['"'] = '"', ["'"] = "'" }
          if map[nx] then buf[#buf + 1] = map[nx]
          else buf[#buf + 1] = "\\" .. nx end
          j = j + 2
        else
          buf[#buf + 1] = c
          j = j + 1
        end
      end
      push("str", table.concat(buf), i)
      i = j + 1
    elseif ch == "`" then
      local e = src:find("`", i + 1, true)
      if not e then qerr("1:%d: parse error: unterminated raw string", i) end
      push("str", src:sub(i + 1, e - 1), i)
      i = e + 1
    else
      local two = src:sub(i, i + 1)
      if two == "!=" or two == "=~" or two == "!~" or two == "==" or two == ">=" or two == "<=" then
        push("op", two, i)
        i = i + 2
      elseif ch:match("[%(%)%{%}%[%],=%+%-%*/%%^<>@]") then
        push("op", ch, i)
        i = i + 1
      else
        qerr("1:%d: parse error: unexpected character: %q", i, ch)
      end
    end
  end
  push("eof", nil, n + 1)
  return toks
end

local AGGS = { sum = true, avg = true, min = true, max = true, count = true }
local UNSUPPORTED_AGGS = { stddev = true, stdvar = true, topk = true, bottomk = true,
                           quantile = true, count_values = true, group = true }

-- Translates a (fully anchored) RE2 regex of the simple kind label
-- matchers use into Lua patterns, one per top-level alternative:
-- literals, ., [classes], \d \w \s, and * + ? after one item; an outer
-- (a|b) group. Anything else is unsupported.
local function regex(re)
  local src = re
  if src:match("^%(.*%)$") and not src:sub(2, -2):find("[()]") then src = src:sub(2, -2) end
  local alts, cur, depth, i = {}, {}, 0, 1
  while i <= #src do
    local c = src:sub(i, i)
    if c == "\\" then
      cur[#cur + 1] = src:sub(i, i + 1)
      i = i + 2
    else
      if c == "[" then depth = depth + 1 elseif c == "]" then depth = math.max(0, depth - 1) end
      if c == "|" and depth == 0 then
        alts[#alts + 1] = table.concat(cur)
        cur = {}
      else
        cur[#cur + 1] = c
      end
      i = i + 1
    end
  end
  alts[#alts + 1] = table.concat(cur)
  local pats = {}
  for ai, alt in ipairs(alts) do
    local out, j = {}, 1
    while j <= #alt do
      local c = alt:sub(j, j)
      if c == "\\" then
        local nx = alt:sub(j + 1, j + 1)
        if nx == "d" then out[#out + 1] = "%d"
        elseif nx == "w" then out[#out + 1] = "[%w_]"
        elseif nx == "s" then out[#out + 1] = "%s"
        elseif nx:match("%p") then out[#out + 1] = "%" .. nx
        else unsupported(string.format("the regex escape \\%s (in %q)", nx, re)) end
        j = j + 2
      elseif c == "[" then
        local e = alt:find("]", j + 2, true)
        if not e then qerr("error parsing regexp: missing closing ]: %q", re) end
        local body = alt:sub(j + 1, e - 1)
        body = body:gsub("%%", "%%%%")
        out[#out + 1] = "[" .. body .. "]"
        j = e + 1
      elseif c == "." then
        out[#out + 1] = "."
        j = j + 1
      elseif c == "*" or c == "+" or c == "?" then
        if #out == 0 or alt:sub(j + 1, j + 1) == "?" then
          unsupported(string.format("the regex %q", re))
        end
        out[#out] = out[#out] .. c
        j = j + 1
      elseif c == "^" and j == 1 or c == "$" and j == #alt then
        j = j + 1
      elseif c:match("[%(%){}|^$]") then
        unsupported(string.format("the regex %q (groups, repeats {n,m}, anchors)", re))
      else
        out[#out + 1] = c:match("%p") and ("%" .. c) or c
        j = j + 1
      end
    end
    pats[ai] = "^" .. table.concat(out) .. "$"
  end
  return function(s)
    for _, p in ipairs(pats) do
      if s:match(p) then return true end
    end
    return false
  end
end

local function duration_seconds(text)
  local total, rest = 0, text
  local UNITS = { ms = 0.001, s = 1, m = 60, h = 3600, d = 86400, w = 604800, y = 31536000 }
  while rest ~= "" do
    local num, unit, r = rest:match("^(%d+)(ms)(.*)$")
    if not num then num, unit, r = rest:match("^(%d+)([smhdwy])(.*)$") end
    if not num then qerr("not a valid duration string: %q", text) end
    total = total + tonumber(num) * UNITS[unit]
    rest = r
  end
  if total <= 0 then qerr("not a valid duration string: %q", text) end
  return total
end

-- parse(src) -> AST: {k = "num", v} | {k = "sel", name, match = {...}}
-- | {k = "rate"|"increase", sel, w} | {k = "agg", op, by, without, e}
-- | {k = "bin", op, a, b} | {k = "neg", e} | {k = "hq", q, e}.
local function parse(src)
  local toks, p = lex(src), 1
  local function peek() return toks[p] end
  local function next_tok() p = p + 1; return toks[p - 1] end
  local function is(t, v)
    local k = toks[p]
    return k.t == t and (v == nil or k.v == v)
  end
  local function expect(t, v, what)
    local k = toks[p]
    if k.t ~= t or (v ~= nil and k.v ~= v) then
      qerr("1:%d: parse error: unexpected %s, expected %s", k.pos,
           k.t == "eof" and "end of input" or string.format("%q", tostring(k.v)), what or v or t)
    end
    p = p + 1
    return k
  end

  local function label_list()
    expect("op", "(")
    local ls = {}
    while not is("op", ")") do
      ls[#ls + 1] = expect("id", nil, "a label name").v
      if not is("op", ")") then expect("op", ",") end
    end
    expect("op", ")")
    return ls
  end

  local function selector(name)
    local matchers = {}
    if is("op", "{") then
      next_tok()
      while not is("op", "}") do
        local l = expect("id", nil, "a label name").v
        local op = next_tok()
        if op.t ~= "op" or not (op.v == "=" or op.v == "!=" or op.v == "=~" or op.v == "!~") then
          qerr("1:%d: parse error: unexpected %q in label matching, expected one of =, !=, =~, !~",
               op.pos, tostring(op.v))
        end
        local v = expect("str", nil, "a quoted label value").v
        local m = { label = l, op = op.v, value = v }
        if op.v == "=~" or op.v == "!~" then m.re = regex(v) end
        if l == "__name__" then
          if op.v ~= "=" then unsupported("a __name__ matcher other than =") end
          if name and name ~= v then qerr("metric name must not be set twice: %q or %q", name, v) end
          name = v
        else
          matchers[#matchers + 1] = m
        end
        if not is("op", "}") then expect("op", ",") end
      end
      next_tok()
    end
    if not name then
      unsupported("a selector without a metric name")
    end
    if is("id", "offset") or is("op", "@") then unsupported("offset and @ modifiers") end
    return { k = "sel", name = name, match = matchers }
  end

  local expr

  local function primary()
    local k = peek()
    if k.t == "num" then
      next_tok()
      return { k = "num", v = k.v }
    elseif k.t == "dur" then
      qerr("1:%d: parse error: unexpected duration %q", k.pos, k.v)
    elseif k.t == "str" then
      unsupported("a string literal")
    elseif k.t == "op" and k.v == "(" then
      next_tok()
      local e = expr(0)
      expect("op", ")")
      return e
    elseif k.t == "op" and k.v == "{" then
      return selector(nil)
    elseif k.t == "op" and k.v == "-" then
      next_tok()
      local e = expr(3)
      if e.k == "num" then return { k = "num", v = -e.v } end
      return { k = "neg", e = e }
    elseif k.t == "op" and k.v == "+" then
      next_tok()
      return expr(3)
    elseif k.t == "id" then
      local name = next_tok().v
      local lname = name:lower()
      if lname == "inf" or lname == "nan" then
        return { k = "num", v = lname == "inf" and math.huge or 0 / 0 }
      end
      if AGGS[name] then
        local by, without
        if is("id", "by") then next_tok(); by = label_list()
        elseif is("id", "without") then next_tok(); without = label_list() end
        expect("op", "(")
        local e = expr(0)
        if is("op", ",") then unsupported(name .. "() with a parameter") end
        expect("op", ")")
        if not by and not without then
          if is("id", "by") then next_tok(); by = label_list()
          elseif is("id", "without") then next_tok(); without = label_list() end
        end
        return { k = "agg", op = name, by = by, without = without, e = e }
      end
      if UNSUPPORTED_AGGS[name] then unsupported("the aggregation " .. name .. "()") end
      if is("op", "(") then
        if name == "rate" or name == "increase" then
          next_tok()
          local id = peek()
          local sel
          if id.t == "id" then next_tok(); sel = selector(id.v)
          elseif id.t == "op" and id.v == "{" then sel = selector(nil)
          else unsupported(name .. "() of anything but a metric selector with a range [w]") end
          if not is("op", "[") then
            qerr("1:%d: parse error: ranges only allowed for vector selectors: %s() needs M[w]",
                 peek().pos, name)
          end
          next_tok()
          local d = next_tok()
          if d.t ~= "dur" then qerr("1:%d: parse error: missing unit character in duration", d.pos) end
          if is("op", ":") then unsupported("subqueries") end
          expect("op", "]")
          if is("id", "offset") or is("op", "@") then unsupported("offset and @ modifiers") end
          expect("op", ")")
          return { k = name, sel = sel, w = duration_seconds(d.v) }
        elseif name == "histogram_quantile" then
          next_tok()
          local q = expr(0)
          expect("op", ",")
          local e = expr(0)
          expect("op", ")")
          return { k = "hq", q = q, e = e }
        end
        unsupported("the function " .. name .. "()")
      end
      if name == "by" or name == "without" or name == "on" or name == "ignoring"
          or name == "bool" or name == "offset" then
        unsupported("'" .. name .. "' here")
      end
      local sel = selector(name)
      if is("op", "[") then unsupported("a range vector (M[w]) outside rate() or increase()") end
      return sel
    elseif k.t == "eof" then
      qerr("1:%d: parse error: unexpected end of input", k.pos)
    end
    qerr("1:%d: parse error: unexpected %q", k.pos, tostring(k.v))
  end

  local BIN = { ["+"] = 1, ["-"] = 1, ["*"] = 2, ["/"] = 2 }
  expr = function(min)
    local a = primary()
    while true do
      local k = peek()
      if k.t == "op" and (k.v == "%" or k.v == "^" or k.v == "==" or k.v == "!="
          or k.v == ">" or k.v == "<" or k.v == ">=" or k.v == "<=") then
        unsupported("the operator " .. k.v)
      end
      if k.t == "id" and (k.v == "and" or k.v == "or" or k.v == "unless") then
        unsupported("the operator " .. k.v)
      end
      local prec = k.t == "op" and BIN[k.v]
      if not prec or prec <= min then break end
      next_tok()
      if is("id", "on") or is("id", "ignoring") or is("id", "bool") or is("id", "group_left")
          or is("id", "group_right") then
        unsupported("vector matching modifiers (on, ignoring, group_left, bool)")
      end
      local b = expr(prec)
      a = { k = "bin", op = k.v, a = a, b = b }
    end
    return a
  end

  local e = expr(0)
  if not is("eof") then
    local k = peek()
    qerr("1:%d: parse error: unexpected %q after the expression", k.pos, tostring(k.v))
  end
  return e
end
M.parse = parse

-- ---- evaluation ----------------------------------------------------------------------

local function key_of(labels)
  local keys = U.keys(labels)
  local parts = {}
  for i, k in ipairs(keys) do parts[i] = k .. "\1" .. labels[k] end
  return table.concat(parts, "\2")
end

local function drop_name(labels)
  local t = with(labels)
  t.__name__ = nil
  return t
end

local function matches(s, matchers)
  for _, m in ipairs(matchers) do
    local v = s.labels[m.label] or ""
    if m.op == "=" and v ~= m.value then return false end
    if m.op == "!=" and v == m.value then return false end
    if m.op == "=~" and not m.re(v) then return false end
    if m.op == "!~" and m.re(v) then return false end
  end
  return true
end

-- A context evaluates at real time t_ms; series at a time are cached.
local function pick(ctx, sel, t_ms)
  if not NAMES[sel.name] then return {} end
  local all = ctx.at[t_ms]
  if not all then
    all = M.series(ctx.sim, t_ms, ctx.pods)
    ctx.at[t_ms] = all
  end
  local out = {}
  for _, s in ipairs(all[sel.name]) do
    if matches(s, sel.match) then
      out[#out + 1] = { labels = with(s.labels, "__name__", sel.name), value = s.value }
    end
  end
  return out
end

local function bucket_quantile(q, buckets)
  if q ~= q then return 0 / 0 end
  if q < 0 then return -math.huge end
  if q > 1 then return math.huge end
  table.sort(buckets, function(a, b) return a.ub < b.ub end)
  if #buckets < 2 or buckets[#buckets].ub ~= math.huge then return 0 / 0 end
  for i = 2, #buckets do   -- monotonic, as ensureMonotonic does
    if buckets[i].count < buckets[i - 1].count then buckets[i].count = buckets[i - 1].count end
  end
  local obs = buckets[#buckets].count
  if obs == 0 then return 0 / 0 end
  local rank = q * obs
  local b = #buckets
  for i = 1, #buckets - 1 do
    if buckets[i].count >= rank then b = i break end
  end
  if b == #buckets then return buckets[#buckets - 1].ub end
  if b == 1 and buckets[1].ub <= 0 then return buckets[1].ub end
  local start, stop, count = 0, buckets[b].ub, buckets[b].count
  if b > 1 then
    start = buckets[b - 1].ub
    count = count - buckets[b - 1].count
    rank = rank - buckets[b - 1].count
  end
  return start + (stop - start) * (rank / count)
end

local function arith(op, x, y)
  if op == "+" then return x + y end
  if op == "-" then return x - y end
  if op == "*" then return x * y end
  return x / y
end

local eval

local function aggregate(node, vec)
  local groups, order = {}, {}
  for _, s in ipairs(vec) do
    local g = {}
    if node.by then
      for _, l in ipairs(node.by) do
        if s.labels[l] ~= nil then g[l] = s.labels[l] end
      end
    elseif node.without then
      g = drop_name(s.labels)
      for _, l in ipairs(node.without) do g[l] = nil end
    end
    local k = key_of(g)
    local grp = groups[k]
    if not grp then
      grp = { labels = g, vals = {} }
      groups[k] = grp
      order[#order + 1] = k
    end
    grp.vals[#grp.vals + 1] = s.value
  end
  local out = {}
  for _, k in ipairs(order) do
    local g, v = groups[k], nil
    local vals = g.vals
    if node.op == "sum" or node.op == "avg" then
      v = 0
      for _, x in ipairs(vals) do v = v + x end
      if node.op == "avg" then v = v / #vals end
    elseif node.op == "count" then
      v = #vals
    else
      for _, x in ipairs(vals) do
        -- NaN loses against any number, as Prometheus's min/max do.
        if v == nil or v ~= v or (node.op == "min" and x < v) or (node.op == "max" and x > v) then
          v = x
        end
      end
    end
    out[#out + 1] = { labels = g.labels, value = v }
  end
  return out
end

-- eval(ctx, node, t_ms) -> {type = "scalar", v} | {type = "vector", list}
eval = function(ctx, node, t_ms)
  local k = node.k
  if k == "num" then return { type = "scalar", v = node.v } end
  if k == "sel" then return { type = "vector", list = pick(ctx, node, t_ms) } end
  if k == "rate" or k == "increase" then
    local lookback = node.w * 1000 / (ctx.sim.time_scale or 1)
    local t0 = math.floor(t_ms - lookback + 0.5)
    local now, before = pick(ctx, node.sel, t_ms), pick(ctx, node.sel, t0)
    local prev = {}
    for _, s in ipairs(before) do prev[key_of(s.labels)] = s.value end
    local out = {}
    for _, s in ipairs(now) do
      local inc = s.value - (prev[key_of(s.labels)] or 0)
      if inc < 0 then inc = s.value end   -- a counter reset
      out[#out + 1] = { labels = drop_name(s.labels), value = k == "rate" and inc / node.w or inc }
    end
    return { type = "vector", list = out }
  end
  if k == "agg" then
    local e = eval(ctx, node.e, t_ms)
    if e.type ~= "vector" then
      qerr("expected type instant vector in aggregation expression, got scalar")
    end
    return { type = "vector", list = aggregate(node, e.list) }
  end
  if k == "neg" then
    local e = eval(ctx, node.e, t_ms)
    if e.type == "scalar" then return { type = "scalar", v = -e.v } end
    local out = {}
    for i, s in ipairs(e.list) do out[i] = { labels = drop_name(s.labels), value = -s.value } end
    return { type = "vector", list = out }
  end
  if k == "bin" then
    local a, b = eval(ctx, node.a, t_ms), eval(ctx, node.b, t_ms)
    if a.type == "scalar" and b.type == "scalar" then
      return { type = "scalar", v = arith(node.op, a.v, b.v) }
    end
    local out = {}
    if a.type == "vector" and b.type == "vector" then
      local right, seen = {}, {}
      for _, s in ipairs(b.list) do
        local kk = key_of(drop_name(s.labels))
        if seen[kk] then
          qerr("found duplicate series for the match group %s on the right hand-side of the operation", kk)
        end
        seen[kk], right[kk] = true, s
      end
      local left = {}
      for _, s in ipairs(a.list) do
        local lbl = drop_name(s.labels)
        local kk = key_of(lbl)
        if left[kk] then
          qerr("found duplicate series for the match group on the left hand-side of the operation")
        end
        left[kk] = true
        local r = right[kk]
        if r then out[#out + 1] = { labels = lbl, value = arith(node.op, s.value, r.value) } end
      end
    else
      local vec, sc, vec_left = a, b, true
      if a.type == "scalar" then vec, sc, vec_left = b, a, false end
      for _, s in ipairs(vec.list) do
        local v = vec_left and arith(node.op, s.value, sc.v) or arith(node.op, sc.v, s.value)
        out[#out + 1] = { labels = drop_name(s.labels), value = v }
      end
    end
    return { type = "vector", list = out }
  end
  if k == "hq" then
    local q = eval(ctx, node.q, t_ms)
    if q.type ~= "scalar" then
      qerr("expected type scalar in call to function \"histogram_quantile\", got instant vector")
    end
    local e = eval(ctx, node.e, t_ms)
    if e.type ~= "vector" then
      qerr("expected type instant vector in call to function \"histogram_quantile\", got scalar")
    end
    local groups, order = {}, {}
    for _, s in ipairs(e.list) do
      local le = s.labels.le == "+Inf" and math.huge or tonumber(s.labels.le)
      if le then
        local g = drop_name(s.labels)
        g.le = nil
        local kk = key_of(g)
        if not groups[kk] then
          groups[kk] = { labels = g, buckets = {} }
          order[#order + 1] = kk
        end
        local bs = groups[kk].buckets
        bs[#bs + 1] = { ub = le, count = s.value }
      end
    end
    local out = {}
    for _, kk in ipairs(order) do
      local g = groups[kk]
      out[#out + 1] = { labels = g.labels, value = bucket_quantile(q.v, g.buckets) }
    end
    return { type = "vector", list = out }
  end
  qerr("cannot evaluate %s", tostring(k))
end

local function sorted(list)
  local keyed = {}
  for i, s in ipairs(list) do keyed[i] = { key = key_of(s.labels), s = s } end
  table.sort(keyed, function(a, b) return a.key < b.key end)
  local out = {}
  for i, x in ipairs(keyed) do out[i] = x.s end
  return out
end

local function new_ctx(sim)
  return { sim = sim, pods = pods_of(sim), at = {} }
end

-- instant(sim, promql, t_ms) -> data (resultType, result) of the API.
function M.instant(sim, promql, t_ms)
  local ast = parse(promql)
  local r = eval(new_ctx(sim), ast, t_ms)
  local ts = t_ms / 1000
  if r.type == "scalar" then
    return { resultType = "scalar", result = U.A({ ts, M.format_value(r.v) }) }
  end
  local res = U.A()
  for _, s in ipairs(sorted(r.list)) do
    res[#res + 1] = { metric = s.labels, value = U.A({ ts, M.format_value(s.value) }) }
  end
  return { resultType = "vector", result = res }
end

-- range(sim, promql, start_ms, end_ms, step_ms) -> data of the API.
function M.range(sim, promql, start_ms, end_ms, step_ms)
  local ast = parse(promql)
  local ctx = new_ctx(sim)
  local series, order = {}, {}
  local t = start_ms
  while t <= end_ms do
    local r = eval(ctx, ast, t)
    local list = r.type == "scalar" and { { labels = {}, value = r.v } } or r.list
    for _, s in ipairs(list) do
      local kk = key_of(s.labels)
      if not series[kk] then
        series[kk] = { metric = s.labels, values = U.A() }
        order[#order + 1] = kk
      end
      local vs = series[kk].values
      vs[#vs + 1] = U.A({ t / 1000, M.format_value(s.value) })
    end
    ctx.at = {}   -- series of one step are not needed by the next
    t = t + step_ms
  end
  table.sort(order)
  local res = U.A()
  for _, kk in ipairs(order) do res[#res + 1] = series[kk] end
  return { resultType = "matrix", result = res }
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
  qerr("invalid parameter %q: cannot parse %q to a valid timestamp", name, v)
end

local function step_param(v)
  if v == nil or v == "" then qerr("invalid parameter \"step\": cannot parse \"\" to a valid duration") end
  local n = tonumber(v)
  if n then
    if n ~= n or n == math.huge then qerr("invalid parameter \"step\": cannot parse %q to a valid duration", v) end
    return n * 1000
  end
  local ok, secs = pcall(duration_seconds, v)
  if not ok then qerr("invalid parameter \"step\": cannot parse %q to a valid duration", v) end
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
    if q == nil or q == "" then qerr("invalid parameter \"query\": unknown position: parse error: no expression found in input") end
    if path == "/api/v1/query" then
      local t = time_param(params.time, "time") or U.now_ms()
      return M.instant(sim, q, math.floor(t + 0.5))
    end
    local s = time_param(params.start, "start")
    local e = time_param(params["end"], "end")
    if not s then qerr("invalid parameter \"start\": cannot parse \"\" to a valid timestamp") end
    if not e then qerr("invalid parameter \"end\": cannot parse \"\" to a valid timestamp") end
    if e < s then qerr("end timestamp must not be before start time") end
    local step = step_param(params.step)
    if step <= 0 then
      qerr("zero or negative query resolution step widths are not accepted. Try a positive integer")
    end
    if (e - s) / step > 11000 then
      qerr("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)")
    end
    return M.range(sim, q, math.floor(s + 0.5), math.floor(e + 0.5), step)
  end)
  if not ok then
    if getmetatable(res) == QueryError then
      local msg = res.message
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
