-- summit.canary: canary analysis with explainable verdicts (docs/canary.md).
--
--   local canary = require("summit.canary")
--   local v = canary.analyze{ metrics = {...}, interval = "1m", count = 5, ... }
--   if v.verdict ~= "successful" then ... end   -- the runbook decides
--
-- The decision rules are Argo Rollouts' (per metric: failure, inconclusive
-- and consecutive-error limits, consecutive successes, the outcome when
-- `count` is reached; the worst metric wins), with Kayenta's canary-vs-
-- baseline statistics (Mann-Whitney U, Hodges-Lehmann shift and a
-- tolerance band) and its weighted score. Every measurement is a journaled
-- step, so a killed analysis resumes with the measurements it already took
-- and takes only the missing ones; the sleeps between them are durable.
local api = require("summit.api")
local T = require("summit.c.task")
local errors = require("summit.errors")
local json = require("summit.json")
local stats = require("summit.stats")
local argcheck = require("summit.args")

local M = {}

-- The worst metric wins: Successful < Inconclusive < Error < Failed.
local RANK = { successful = 0, inconclusive = 1, error = 2, failed = 3 }

-- ---- argument checks: every misuse raises at once, naming the argument ----
-- (summit.args: the schemas below say what each option may be; bad()
-- reports the rest, and analyze raises it at the runbook's line)

local bad = argcheck.bad

local NO_DATA = { "fail", "inconclusive", "ignore" }
local LIMIT = "a whole number >= 0, or -1 to turn it off"
local FRACTION = "a fraction >= 0 (0.10 = 10%)"
local AMOUNT = "an absolute amount >= 0"

local function vars_arg(arg, v)
  if v == nil then return nil end
  if type(v) ~= "table" then bad(arg, "a table of template variables expected") end
  for k, x in pairs(v) do
    if type(k) ~= "string" then bad(arg, "variable names must be strings") end
    if type(x) ~= "string" and type(x) ~= "number" and type(x) ~= "boolean" then
      bad(arg .. "." .. k, "a string, number or boolean expected, got " .. type(x))
    end
  end
  return v
end

local function merge(a, b)
  local r = {}
  for k, v in pairs(a or {}) do r[k] = v end
  for k, v in pairs(b or {}) do r[k] = v end
  return r
end

-- A query source: { query = "promql" } or { template = "name", vars = {} }.
local function source_arg(arg, q, t, vars)
  if q ~= nil and t ~= nil then bad(arg, "give either query or template, not both") end
  if q ~= nil then
    -- A table is the query of a web or CloudWatch provider (summit.metrics checks it).
    if (type(q) ~= "string" or q == "") and type(q) ~= "table" then
      bad(arg .. ".query", "a PromQL string (or a provider's query) expected")
    end
    return { query = q }
  end
  if t ~= nil then
    if type(t) ~= "string" or t == "" then bad(arg .. ".template", "a template name expected") end
    return { template = t, vars = vars }
  end
  return nil
end

-- compare = true | { direction, confidence, band, effect, min_effect, remove_outliers }
local COMPARE = argcheck.schema{
  { "direction", enum = { "increase", "decrease", "either" }, default = "either" },
  { "confidence", type = "number", above = 0.5, below = 1, default = 0.98,
    msg = "a level between 0.5 and 1, like 0.98" },
  { "band", enum = { "baseline", "estimate" }, default = "baseline" },
  { "effect", type = "number", min = 0, default = 0.25, msg = "a fraction >= 0 (0.25 = 25%)" },
  { "min_effect", type = "number", min = 0, default = 0, msg = AMOUNT },
  { "remove_outliers", check = function(_, v) return v == true end },
}

local function compare_arg(arg, c)
  if c == nil then return nil end
  if c == true then c = {} end
  if type(c) ~= "table" then bad(arg, "a table like { direction = \"increase\" } or true expected") end
  return COMPARE(c, arg .. ".")
end

-- thresholds = { pass = 95, marginal = 75 } (marginal defaults to pass)
local THRESHOLDS = argcheck.schema{
  { "pass", type = "number", above = 0, max = 100, required = true, msg = "a score in (0, 100] expected" },
  { "marginal", type = "number", min = 0, default = function(r) return r.pass end,
    msg = "a score between 0 and pass expected",
    check = function(arg, v, _, r)
      if v > r.pass then bad(arg, "a score between 0 and pass expected") end
      return v
    end },
}

-- A metric's own options; the analysis' options (ctx) give the defaults.
-- name, query, template, vars and baseline depend on each other:
-- check_metric checks them.
local METRIC = argcheck.schema{
  { "name" }, { "query" }, { "template" }, { "vars" }, { "baseline" },
  { "provider", type = "string", msg = "a provider name of metrics.providers expected" },
  { "max", type = "number" },
  { "min", type = "number" },
  { "max_increase", type = "number", min = 0, msg = FRACTION },
  { "max_decrease", type = "number", min = 0, msg = FRACTION },
  { "margin", type = "number", min = 0, default = 0, msg = AMOUNT },
  { "compare", check = compare_arg },
  { "success", type = "function", msg = "a function(value, m) -> boolean expected" },
  { "failure", type = "function", msg = "a function(value, m) -> boolean expected" },
  { "dry_run", type = "boolean" },
  { "critical", type = "boolean" },
  { "weight", type = "number", above = 0, default = 1, msg = "a number > 0" },
  { "failure_limit", type = "integer", min = -1, msg = LIMIT,
    default = function(_, o) return o.failure_limit end },
  { "inconclusive_limit", type = "integer", min = -1, msg = LIMIT,
    default = function(_, o) return o.inconclusive_limit end },
  { "consecutive_error_limit", type = "integer", min = -1, msg = LIMIT,
    default = function(_, o) return o.consecutive_error_limit end },
  { "consecutive_success", type = "integer", min = 1,
    default = function(_, o) return o.consecutive_success end },
  { "no_data", enum = NO_DATA, default = function(_, o) return o.no_data end },
  -- compare only (check_metric says so otherwise): the analysis' window
  -- and step, in milliseconds already.
  { "window", type = "duration", to = "window_ms",
    derived = function(r, o) if r.compare then return o.window_ms end end },
  { "step", type = "duration", to = "step_ms",
    derived = function(r, o)
      if r.compare then return o.step_ms or math.max(1000, r.window_ms / 30) end
    end },
  unknown = "unknown option",
}

-- analyze's options, in the order they are checked; metrics is check()'s.
local OPTIONS = argcheck.schema{
  { "name", type = "string", nonempty = true, default = "canary" },
  { "count", type = "integer", min = 1, default = 1 },
  { "interval", type = "duration", default = "1m", to = "interval_ms" },
  { "initial_delay", type = "duration", default = 0, to = "initial_delay_ms" },
  { "failure_limit", type = "integer", min = -1, default = 0, msg = LIMIT },
  { "inconclusive_limit", type = "integer", min = -1, default = 0, msg = LIMIT },
  { "consecutive_error_limit", type = "integer", min = -1, default = 4, msg = LIMIT },
  { "consecutive_success", type = "integer", min = 1 },
  { "no_data", enum = NO_DATA, default = "inconclusive" },
  { "vars", check = vars_arg },
  { "window", type = "duration", to = "window_ms", default = "5m",
    derived = function(r) if r.interval_ms > 0 then return r.interval_ms end end },
  { "step", type = "duration", to = "step_ms" },
  { "thresholds", type = "table", fields = THRESHOLDS,
    msg = "a table like { pass = 95, marginal = 75 } expected" },
  { "audit", type = "boolean", check = function(_, v) return v ~= false end },
  { "measure", type = "function", msg = "a function(request) expected" },
  { "metrics" },
  unknown = "unknown option",
}

local function fmt(v)
  if type(v) ~= "number" then return tostring(v) end
  if v ~= v then return "NaN" end
  if v == math.huge then return "+Inf" end
  if v == -math.huge then return "-Inf" end
  if v == math.floor(v) and math.abs(v) < 1e15 then return string.format("%d", v) end
  return string.format("%.6g", v)
end

local function pct(r) return fmt(r * 100) .. "%" end

-- Where a condition function was defined (for the measurement's record).
local function fn_site(f)
  local info = debug.getinfo(f, "S")
  local src = info and info.source or "?"
  return (src:gsub("^@", "")) .. ":" .. tostring(info and info.linedefined or "?")
end

-- The text of a metric's condition, as the records show it.
local function describe(m)
  local parts = {}
  if m.max then parts[#parts + 1] = "value <= " .. fmt(m.max) end
  if m.min then parts[#parts + 1] = "value >= " .. fmt(m.min) end
  local margin = m.margin and m.margin > 0 and (" + " .. fmt(m.margin)) or ""
  if m.max_increase then
    parts[#parts + 1] = "value <= baseline + " .. pct(m.max_increase) .. margin
  end
  if m.max_decrease then
    parts[#parts + 1] = "value >= baseline - " .. pct(m.max_decrease)
      .. (margin ~= "" and (" - " .. fmt(m.margin)) or "")
  end
  if m.compare then
    local c = m.compare
    local which = { increase = "an increase", decrease = "a decrease",
                    either = "a change either way" }
    parts[#parts + 1] = string.format(
      "Mann-Whitney canary vs baseline at %s confidence: the shift must stay within "
      .. "+-%s of the %s%s (%s fails)", pct(c.confidence), pct(c.effect),
      c.band == "estimate" and "shift estimate" or "baseline median",
      c.min_effect > 0 and (", at least " .. fmt(c.min_effect)) or "",
      which[c.direction])
  end
  if m.success then parts[#parts + 1] = "success(value) at " .. fn_site(m.success) end
  if m.failure then parts[#parts + 1] = "not failure(value) at " .. fn_site(m.failure) end
  if #parts == 0 then return "none (measured and reported only)" end
  return table.concat(parts, " and ")
end

-- The query and baseline of metric s (a: its argument name).
local function sources(a, s, m, o)
  m.source = source_arg(a, s.query, s.template, vars_arg(a .. ".vars", s.vars))
  if not m.source then bad(a, "a query (PromQL) or a template is needed") end
  if m.source.query and s.vars ~= nil then bad(a .. ".vars", "variables are for a template, not a query") end
  if m.source.template then m.source.vars = merge(o.vars, s.vars) end
  if s.provider ~= nil then
    if m.source.template then
      bad(a .. ".provider", "a template names its provider in summit.lua (metrics.queries)")
    end
    m.source.provider = s.provider
  end
  local b = s.baseline
  if b == nil then return end
  if type(b) == "string" then
    m.baseline = source_arg(a .. ".baseline", b, nil)
    m.baseline.provider = s.provider
    return
  end
  if type(b) ~= "table" then
    bad(a .. ".baseline", "a PromQL string or { query = } / { template =, vars = } expected")
  end
  local k = argcheck.unknown(b, { query = true, template = true, vars = true })
  if k ~= nil then bad(a .. ".baseline." .. tostring(k), "unknown option (known: query, template, vars)") end
  vars_arg(a .. ".baseline.vars", b.vars)
  m.baseline = source_arg(a .. ".baseline", b.query, b.template)
  if m.baseline and m.baseline.query then m.baseline.provider = s.provider end
  if not m.baseline then
    -- Only vars: the metric's own template with them.
    if not m.source.template then
      bad(a .. ".baseline", "a query or template is needed (vars alone need the metric's template)")
    end
    m.baseline = { template = m.source.template }
  end
  if m.baseline.template then m.baseline.vars = merge(m.source.vars or o.vars, b.vars) end
end

local function check_metric(i, name, s, o)
  local a = string.format("metrics[%s]", type(i) == "number" and tostring(i) or ("'" .. i .. "'"))
  if type(s) ~= "table" then bad(a, "a table like { query = \"...\", max = 0.01 } expected") end
  local m = METRIC(s, a .. ".", o)
  m.name = name or s.name
  if type(m.name) ~= "string" or not m.name:match("^[%w_.:-]+$") then
    bad(a .. ".name", "a name of letters, digits, _ . : - expected")
  end
  m.query, m.template, m.vars = nil, nil, nil
  sources(a, s, m, o)
  if m.max and m.min and m.min > m.max then bad(a .. ".min", "greater than max") end
  if (m.max_increase or m.max_decrease or m.compare) and not m.baseline then
    bad(a .. ".baseline", "a baseline query is needed by "
      .. (m.compare and "compare" or (m.max_increase and "max_increase" or "max_decrease")))
  end
  m.dry_run, m.critical = m.dry_run == true, m.critical == true
  if m.dry_run and m.critical then bad(a .. ".critical", "a dry_run metric never decides, so it cannot be critical") end
  if m.compare then
    if m.window_ms <= 0 then bad(a .. ".window", "a duration > 0 (the range the samples come from)") end
    if m.step_ms <= 0 then bad(a .. ".step", "a duration > 0") end
  elseif s.window ~= nil or s.step ~= nil then
    bad(a .. (s.window ~= nil and ".window" or ".step"), "only used by compare (range samples)")
  end
  m.condition = describe(m)
  return m
end

-- check(o) -> the normalised options, or raises argcheck.bad.
local function check(o)
  if type(o) ~= "table" then bad("opts", "a table expected") end
  local r = OPTIONS(o)
  if type(o.metrics) ~= "table" or next(o.metrics) == nil then
    bad("metrics", "a non-empty list (or table by name) of metrics expected")
  end
  r.metrics = {}
  local seen = {}
  if #o.metrics > 0 then
    for k in pairs(o.metrics) do
      if type(k) ~= "number" then bad("metrics", "a list of metrics or a table by name, not both") end
    end
    for i, s in ipairs(o.metrics) do r.metrics[i] = check_metric(i, nil, s, r) end
  else
    local names = {}
    for k in pairs(o.metrics) do
      if type(k) ~= "string" then bad("metrics", "a list of metrics or a table by name, not both") end
      names[#names + 1] = k
    end
    table.sort(names)
    for i, k in ipairs(names) do
      local s = o.metrics[k]
      if type(s) == "table" and s.name ~= nil and s.name ~= k then
        bad("metrics['" .. k .. "'].name", "differs from its key")
      end
      r.metrics[i] = check_metric(k, k, s, r)
    end
  end
  for _, m in ipairs(r.metrics) do
    if seen[m.name] then bad("metrics", "two metrics are named '" .. m.name .. "'") end
    seen[m.name] = true
  end
  return r
end


-- ---- measuring ----

-- A value as JSON can hold it (non-finite numbers as Prometheus writes them).
local function jnum(v)
  if type(v) ~= "number" then return v end
  if v ~= v then return "NaN" end
  if v == math.huge then return "+Inf" end
  if v == -math.huge then return "-Inf" end
  return v
end

local function finite(v) return type(v) == "number" and v == v and v > -math.huge and v < math.huge end

local function shown_query(src)
  if type(src.query) == "table" then return json.encode(src.query) end
  if src.query then return src.query end
  local keys = {}
  for k in pairs(src.vars or {}) do keys[#keys + 1] = k end
  table.sort(keys)
  local kv = {}
  for i, k in ipairs(keys) do kv[i] = k .. "=" .. tostring(src.vars[k]) end
  return string.format("template %s{%s}", src.template, table.concat(kv, ","))
end

local function metrics_api()
  local m = rawget(api, "metrics")
  if type(m) ~= "table" then
    error(errors.new("EMETRICS", "the metrics primitive is not available in this build "
      .. "(give canary.analyze a measure function, or configure metrics in summit.lua)"), 0)
  end
  return m
end

-- The PromQL text of a source (a template rendered by metrics).
local function promql(src)
  if src.query then return src.query end
  return metrics_api().render(src.template, src.vars)
end

-- The default measurement source: the `metrics` primitive (each call one
-- journal entry; a template's entry is named after it). An instant
-- request gives a number or nil (value() raises EMETRICS for several
-- series); a range request gives series. Also returns the PromQL text.
local function from_metrics(req)
  local mx = metrics_api()
  local q, pname = promql(req)
  pname = req.provider or pname
  local text = type(q) == "string" and q or json.encode(q)
  if req.range then
    local series = mx.range(q, { start = req.range.start, stop = req.range.stop,
                                 step = req.range.step, provider = pname })
    return series, text
  end
  if req.template then return mx.get(req.template, req.vars), text end
  return mx.value(q, { provider = pname }), text
end

-- A sample value as Prometheus writes it ("NaN", "+Inf", "-Inf", "0.5").
local function parse(v)
  if type(v) ~= "string" then return v end
  if v == "NaN" then return 0 / 0 end
  if v == "+Inf" or v == "Inf" then return math.huge end
  if v == "-Inf" then return -math.huge end
  return tonumber(v)
end

-- Turns what a source returned for an instant request into a number or
-- nil (no data), or raises when it cannot be one value.
local function one_value(r)
  if r == nil or type(r) == "number" then return r end
  if type(r) ~= "table" then
    error(errors.new("EMETRICS", "the source returned a " .. type(r) .. ", not a number"), 0)
  end
  if #r == 0 then return nil end
  if #r > 1 then
    error(errors.new("EMETRICS", string.format("the query returned %d series, not one: "
      .. "aggregate it (sum, avg, max ...) to one value", #r)), 0)
  end
  local v = r[1]
  if type(v) == "table" then v = v.value end
  v = parse(v)
  if type(v) ~= "number" then
    error(errors.new("EMETRICS", "the series has no numeric value"), 0)
  end
  return v
end

-- Samples from what a source returned for a range request: a list of
-- numbers or of series { values = { {t, v}, ... } }.
local function samples(r)
  local out = {}
  if r == nil then return out end
  if type(r) ~= "table" then
    error(errors.new("EMETRICS", "the source returned a " .. type(r) .. ", not a list of samples"), 0)
  end
  for _, s in ipairs(r) do
    if type(s) == "number" then
      out[#out + 1] = s
    elseif type(s) == "table" and type(s.values) == "table" then
      for _, p in ipairs(s.values) do
        local v = parse(type(p) == "table" and p[2] or p)
        if type(v) == "number" then out[#out + 1] = v end
      end
    else
      error(errors.new("EMETRICS", "a sample is neither a number nor a series"), 0)
    end
  end
  return out
end

-- Raises again what must not be swallowed (a cancellation).
local function passthrough(e)
  if type(e) == "table" and e.code == "ECANCELED" then error(e, 0) end
end

local function err_text(e)
  if type(e) == "table" and e.code then
    return tostring(e.code) .. ": " .. tostring(e.message)
  end
  return tostring(e)
end

-- Tukey's fences at 3 IQR (R type-7 quartiles): returns the kept values
-- and how many were dropped.
local function without_outliers(xs)
  if #xs < 4 then return xs, 0 end
  local q1, q3 = stats.quantile(xs, 0.25), stats.quantile(xs, 0.75)
  local lo, hi = q1 - 3 * (q3 - q1), q3 + 3 * (q3 - q1)
  local kept = {}
  for _, v in ipairs(xs) do if v >= lo and v <= hi then kept[#kept + 1] = v end end
  return kept, #xs - #kept
end

local function finite_only(xs)
  local kept = {}
  for _, v in ipairs(xs) do if finite(v) then kept[#kept + 1] = v end end
  return kept, #xs - #kept
end

-- The statistical check (Kayenta's classifier, band from the baseline).
local function compare_check(c, x, y)
  local chk = { condition = "compare" }
  local sx, sy = {}, {}
  for i, v in ipairs(x) do sx[i] = v end
  for i, v in ipairs(y) do sy[i] = v end
  table.sort(sx)
  table.sort(sy)
  local same = #sx == #sy
  if same then for i = 1, #sx do if sx[i] ~= sy[i] then same = false break end end end
  if same then
    chk.outcome = "successful"
    chk.detail = "canary and baseline samples are identical"
    return chk
  end
  local alpha = 1 - c.confidence
  local min_p = stats.min_p(#x, #y)
  if min_p > alpha then
    chk.outcome = "inconclusive"
    chk.detail = string.format("too few samples (%d canary, %d baseline) for a test at %s "
      .. "confidence: the smallest p-value they can give is %s", #x, #y, pct(c.confidence), fmt(min_p))
    return chk
  end
  local mw = stats.mann_whitney(x, y)
  local lo, hi, info = stats.shift_interval(x, y, c.confidence)
  local est = info.estimate
  local base_median = stats.median(y)
  local half = c.effect * math.abs(c.band == "estimate" and est or base_median)
  if half < c.min_effect then half = c.min_effect end
  chk.stats = {
    u = mw.u, p = mw.p, method = mw.method, n_canary = #x, n_baseline = #y,
    estimate = est, lower = lo, upper = hi, band = { -half, half },
    canary_median = stats.median(x), baseline_median = base_median,
  }
  local high, low = lo > half, hi < -half
  local where = string.format("shift estimate %s (%s CI [%s, %s]), tolerance band [-%s, +%s], "
    .. "Mann-Whitney U = %s, p = %s", fmt(est), pct(c.confidence), fmt(lo), fmt(hi),
    fmt(half), fmt(half), fmt(mw.u), fmt(mw.p))
  if high and c.direction ~= "decrease" then
    chk.outcome, chk.detail = "failed", "canary is higher than baseline: " .. where
  elseif low and c.direction ~= "increase" then
    chk.outcome, chk.detail = "failed", "canary is lower than baseline: " .. where
  else
    chk.outcome = "successful"
    if high then
      chk.detail = "canary is higher than baseline, but only a decrease fails: " .. where
    elseif low then
      chk.detail = "canary is lower than baseline, but only an increase fails: " .. where
    else
      chk.detail = "no change beyond the tolerance band: " .. where
    end
  end
  return chk
end

-- evaluate(m, d) -> outcome, reason, checks: one measurement's outcome from
-- its data d = { value, baseline, values, baseline_values }.
local function evaluate(m, d)
  local checks = {}
  -- The measurement's outcome is its worst check's; the reason gives
  -- every check with that outcome.
  local function worst()
    local w = "successful"
    for _, c in ipairs(checks) do
      if RANK[c.outcome] > RANK[w] then w = c.outcome end
    end
    local t = {}
    for _, c in ipairs(checks) do
      if c.outcome == w then t[#t + 1] = c.detail end
    end
    return w, #t > 0 and table.concat(t, "; ") or "no condition: measured only"
  end
  local v, b = d.value, d.baseline
  if m.max then
    checks[#checks + 1] = { condition = "value <= " .. fmt(m.max),
      outcome = v <= m.max and "successful" or "failed",
      detail = string.format("value %s %s max %s", fmt(v), v <= m.max and "<=" or ">", fmt(m.max)) }
  end
  if m.min then
    checks[#checks + 1] = { condition = "value >= " .. fmt(m.min),
      outcome = v >= m.min and "successful" or "failed",
      detail = string.format("value %s %s min %s", fmt(v), v >= m.min and ">=" or "<", fmt(m.min)) }
  end
  if (m.max_increase or m.max_decrease) and not finite(b) then
    checks[#checks + 1] = { condition = "relative to the baseline", outcome = "inconclusive",
      detail = "the baseline is " .. fmt(b) .. ": a limit relative to it means nothing" }
  elseif m.max_increase then
    local lim = b + math.abs(b) * m.max_increase + m.margin
    local ok = v <= lim
    local detail = string.format("value %s %s %s = baseline %s + %s%s", fmt(v), ok and "<=" or ">",
      fmt(lim), fmt(b), pct(m.max_increase), m.margin > 0 and (" + margin " .. fmt(m.margin)) or "")
    if b == 0 and not ok and m.margin == 0 then
      detail = detail .. " (the baseline is 0, so any canary value above 0 fails; "
        .. "give margin = ... to allow a little)"
    end
    checks[#checks + 1] = { condition = "value <= baseline + " .. pct(m.max_increase),
      outcome = ok and "successful" or "failed", detail = detail, limit = jnum(lim) }
  end
  if m.max_decrease and finite(b) then
    local lim = b - math.abs(b) * m.max_decrease - m.margin
    local ok = v >= lim
    checks[#checks + 1] = { condition = "value >= baseline - " .. pct(m.max_decrease),
      outcome = ok and "successful" or "failed", limit = jnum(lim),
      detail = string.format("value %s %s %s = baseline %s - %s%s", fmt(v), ok and ">=" or "<",
        fmt(lim), fmt(b), pct(m.max_decrease), m.margin > 0 and (" - margin " .. fmt(m.margin)) or "") }
  end
  if m.compare then
    checks[#checks + 1] = compare_check(m.compare, d.values, d.baseline_values)
  end
  if m.success or m.failure then
    -- Argo's conditions: only success -> failed when false; only failure
    -- -> successful when false; both -> failed, successful, or
    -- inconclusive when neither holds.
    local view = { value = v, baseline = b, values = d.values, baseline_values = d.baseline_values }
    local function call(f, what)
      local ok, r = pcall(f, v, view)
      if not ok then
        passthrough(r)
        error(errors.new("ECONDITION", what .. " condition at " .. fn_site(f) .. " raised: "
          .. err_text(r)), 0)
      end
      return r and true or false
    end
    local s = m.success and call(m.success, "success")
    local f = m.failure and call(m.failure, "failure")
    local out, detail
    if m.failure and f then
      out, detail = "failed", "failure(value) is true"
    elseif m.success and s then
      out, detail = "successful", "success(value) is true"
    elseif m.success and m.failure then
      out, detail = "inconclusive", "neither success(value) nor failure(value) is true"
    elseif m.success then
      out, detail = "failed", "success(value) is false"
    else
      out, detail = "successful", "failure(value) is false"
    end
    checks[#checks + 1] = { condition = "conditions", outcome = out,
      detail = detail .. " for value " .. fmt(v) }
  end
  local out, why = worst()
  return out, why, checks
end

-- measure_metric(o, m, round, at) -> the measurement record of one metric.
local function measure_metric(o, m, round, at)
  local rec = { metric = m.name, round = round, condition = m.condition, at = at,
                dry_run = m.dry_run or nil, query = shown_query(m.source),
                baseline_query = m.baseline and shown_query(m.baseline) or nil }
  local source = o.measure or from_metrics
  local function ask(src, side, range)
    local req = { metric = m.name, side = side, round = round, query = src.query,
                  template = src.template, vars = src.vars, range = range, provider = src.provider }
    local r, text = source(req)
    if text then
      if side == "canary" then rec.query = text else rec.baseline_query = text end
    end
    return r
  end
  -- instant(src, side, what) -> the value of an instant query, and why it
  -- gives no data (nil when it does); what names the query in that text.
  local function instant(src, side, what)
    local v = one_value(ask(src, side))
    if v == nil then return v, what .. " returned no series" end
    if v ~= v then return v, what .. " returned NaN (a ratio with no traffic?)" end
    return v
  end
  local ok, err = pcall(function()
    local range
    if m.compare then
      local scale = T.time_scale()
      range = { start = at - m.window_ms / 1000 / scale, stop = at, step = m.step_ms / 1000 / scale }
      rec.range = { start = range.start, stop = range.stop, step = range.step }
    end
    local d = {}
    if m.compare then
      local raw = samples(ask(m.source, "canary", range))
      local rawb = samples(ask(m.baseline, "baseline", range))
      local x, dx = finite_only(raw)
      local y, dy = finite_only(rawb)
      local ox, oy = 0, 0
      if m.compare.remove_outliers then
        x, ox = without_outliers(x)
        y, oy = without_outliers(y)
      end
      rec.values, rec.baseline_values = x, y
      if dx + dy > 0 then rec.dropped = { canary = dx, baseline = dy } end
      if ox + oy > 0 then rec.outliers = { canary = ox, baseline = oy } end
      if #x == 0 or #y == 0 then
        d.no_data = #x == 0 and "the canary query gave no samples"
          or "the baseline query gave no samples"
      else
        d.values, d.baseline_values = x, y
        d.value, d.baseline = stats.mean(x), stats.mean(y)
        rec.value, rec.baseline = d.value, d.baseline
      end
    else
      d.value, d.no_data = instant(m.source, "canary", "the query")
      rec.value = jnum(d.value)
      if m.baseline and not d.no_data then
        d.baseline, d.no_data = instant(m.baseline, "baseline", "the baseline query")
        rec.baseline = jnum(d.baseline)
      end
    end
    if d.no_data then
      rec.no_data = true
      if m.no_data == "fail" then
        rec.outcome = "failed"
      elseif m.no_data == "inconclusive" then
        rec.outcome = "inconclusive"
      else
        rec.outcome = "ignored"
      end
      rec.reason = "no data: " .. d.no_data .. " (no_data = \"" .. m.no_data .. "\")"
      return
    end
    local out, why, checks = evaluate(m, d)
    rec.outcome, rec.reason, rec.checks = out, why, checks
  end)
  if not ok then
    passthrough(err)
    rec.outcome = "error"
    rec.error = err_text(err)
    rec.reason = "the measurement failed: " .. rec.error
  end
  return rec
end

-- ---- the decision rules (Argo Rollouts' analysis, per metric) ----

local function new_state(m)
  return { metric = m, count = 0, successful = 0, failed = 0, inconclusive = 0, error = 0,
           ignored = 0, consecutive_error = 0, consecutive_success = 0 }
end

-- apply(st, rec, count): counts one measurement and decides the metric's
-- verdict if it is decided.
local function apply(st, rec, count)
  local m, out = st.metric, rec.outcome
  st.count = st.count + 1
  st.last = rec
  if out == "ignored" then
    st.ignored = st.ignored + 1
  else
    st[out] = st[out] + 1
    if out == "error" then
      st.consecutive_error = st.consecutive_error + 1
    else
      st.consecutive_error = 0
    end
    if out == "successful" then
      st.consecutive_success = st.consecutive_success + 1
    else
      st.consecutive_success = 0
    end
    if out ~= "successful" then st.last_bad = rec end
  end
  local function decide(v, why)
    st.verdict, st.reason = v, why
  end
  local last = rec.reason and (string.format(" (round %d: %s)", rec.round, rec.reason)) or ""
  if m.failure_limit >= 0 and st.failed > m.failure_limit then
    return decide("failed", string.format("%d failed measurement%s, more than failure_limit %d%s",
      st.failed, st.failed == 1 and "" or "s", m.failure_limit, last))
  end
  if m.inconclusive_limit >= 0 and st.inconclusive > m.inconclusive_limit then
    return decide("inconclusive", string.format(
      "%d inconclusive measurement%s, more than inconclusive_limit %d%s",
      st.inconclusive, st.inconclusive == 1 and "" or "s", m.inconclusive_limit, last))
  end
  if m.consecutive_error_limit >= 0 and st.consecutive_error > m.consecutive_error_limit then
    return decide("error", string.format(
      "%d consecutive measurement errors, more than consecutive_error_limit %d%s",
      st.consecutive_error, m.consecutive_error_limit, last))
  end
  if m.consecutive_success and st.consecutive_success >= m.consecutive_success then
    return decide("successful", string.format("%d consecutive successful measurements "
      .. "(consecutive_success %d)", st.consecutive_success, m.consecutive_success))
  end
  if st.count >= count then
    local with_data = st.successful + st.failed + st.inconclusive
    if with_data == 0 then
      -- Never a pass without data (a deliberate difference from Argo).
      if st.error > 0 then
        return decide("error", string.format("count %d reached and no measurement gave a value "
          .. "(%d errors, %d without data)%s", count, st.error, st.ignored, last))
      end
      return decide("inconclusive", string.format("count %d reached and no measurement had "
        .. "data (no_data = \"ignore\")", count))
    end
    local fail_on = m.failure_limit >= 0
    local succ_on = m.consecutive_success ~= nil
    local summary = string.format("%d successful, %d failed, %d inconclusive, %d errors, %d without data",
      st.successful, st.failed, st.inconclusive, st.error, st.ignored)
    if fail_on and succ_on then
      return decide("inconclusive", string.format("count %d reached: failures stayed within "
        .. "failure_limit %d but consecutive_success %d was not reached (%s)",
        count, m.failure_limit, m.consecutive_success, summary))
    elseif succ_on then
      return decide("failed", string.format("count %d reached without %d consecutive successful "
        .. "measurements (%s)", count, m.consecutive_success, summary))
    elseif fail_on then
      return decide("successful", string.format("count %d reached with failures within "
        .. "failure_limit %d (%s)", count, m.failure_limit, summary))
    end
    return decide("successful", string.format("count %d reached; failure_limit is off and no "
      .. "consecutive_success is set (%s)", count, summary))
  end
end

local function metric_summary(st)
  local m = st.metric
  return {
    verdict = st.verdict or "stopped",
    reason = st.reason or "not decided when the analysis ended",
    count = st.count, successful = st.successful, failed = st.failed,
    inconclusive = st.inconclusive, error = st.error, ignored = st.ignored,
    consecutive_error = st.consecutive_error, consecutive_success = st.consecutive_success,
    dry_run = m.dry_run, critical = m.critical, weight = m.weight,
    condition = m.condition, query = shown_query(m.source),
    baseline_query = m.baseline and shown_query(m.baseline) or nil,
    limits = { failure_limit = m.failure_limit, inconclusive_limit = m.inconclusive_limit,
               consecutive_error_limit = m.consecutive_error_limit,
               consecutive_success = m.consecutive_success, no_data = m.no_data },
  }
end

-- The score: the weighted share of deciding metrics that are successful
-- (Kayenta's), 0 when a critical metric failed or erred. Metrics stopped
-- before they were decided do not count.
local function score_of(states)
  local num, den = 0, 0
  for _, st in ipairs(states) do
    local m = st.metric
    if not m.dry_run and st.verdict then
      if m.critical and (st.verdict == "failed" or st.verdict == "error") then return 0 end
      den = den + m.weight
      if st.verdict == "successful" then num = num + m.weight end
    end
  end
  if den == 0 then return nil end
  return math.floor(num / den * 10000 + 0.5) / 100
end

-- The verdict of the whole analysis from the metrics' states.
local function conclude(o, states)
  local deciding, decided = {}, {}
  for _, st in ipairs(states) do
    if not st.metric.dry_run then
      deciding[#deciding + 1] = st
      if st.verdict then decided[#decided + 1] = st end
    end
  end
  local score = score_of(states)
  if #deciding == 0 then
    return "successful", "every metric is dry_run: nothing decides (see the metrics' own verdicts)", score
  end
  -- A critical metric that failed or erred decides at once (the worst of
  -- them, if several did in the same round).
  local crit
  for _, st in ipairs(decided) do
    if st.metric.critical and (st.verdict == "failed" or st.verdict == "error")
        and (not crit or RANK[st.verdict] > RANK[crit.verdict]) then
      crit = st
    end
  end
  if crit then
    return crit.verdict, string.format("critical metric '%s' %s: %s", crit.metric.name,
      crit.verdict, crit.reason), score
  end
  if o.thresholds then
    local all_error = true
    for _, st in ipairs(decided) do if st.verdict ~= "error" then all_error = false end end
    if all_error then
      return "error", "every metric ended in error: " .. decided[1].metric.name .. ": " .. decided[1].reason, score
    end
    local parts = {}
    for _, st in ipairs(decided) do
      if st.verdict ~= "successful" then
        parts[#parts + 1] = string.format("'%s' %s (weight %s)", st.metric.name, st.verdict, fmt(st.metric.weight))
      end
    end
    local others = #parts > 0 and ("; not successful: " .. table.concat(parts, ", ")) or ""
    local t = o.thresholds
    if score >= t.pass then
      return "successful", string.format("score %s >= pass %s%s", fmt(score), fmt(t.pass), others), score
    elseif score >= t.marginal then
      return "inconclusive", string.format("score %s is marginal (>= %s, < pass %s)%s", fmt(score),
        fmt(t.marginal), fmt(t.pass), others), score
    end
    return "failed", string.format("score %s < marginal %s%s", fmt(score), fmt(t.marginal), others), score
  end
  -- The worst metric wins.
  local worst
  for _, st in ipairs(decided) do
    if not worst or RANK[st.verdict] > RANK[worst.verdict] then worst = st end
  end
  if not worst then
    return "inconclusive", "no metric was decided", score
  end
  if worst.verdict == "successful" then
    local names = {}
    for _, st in ipairs(decided) do names[#names + 1] = st.metric.name end
    return "successful", string.format("every metric successful (%s); %s", table.concat(names, ", "),
      #decided == 1 and worst.reason or "each within its limits"), score
  end
  return worst.verdict, string.format("metric '%s' %s: %s", worst.metric.name, worst.verdict,
    worst.reason), score
end

-- Whether the analysis ends after a round: in the default mode a deciding
-- metric that is failed, erred or inconclusive ends it (Argo: the run is
-- terminating); with thresholds only a critical metric's failure or error
-- does. Returns the metric state that ended it, or nil.
local function ending(o, states)
  local found
  for _, st in ipairs(states) do
    local m, v = st.metric, st.verdict
    if not m.dry_run and v and v ~= "successful" then
      if m.critical and (v == "failed" or v == "error") then return st end
      if not o.thresholds then found = found or st end
    end
  end
  return found
end

local function audit_record(o, action, detail)
  if not o.audit then return end
  local a = rawget(api, "audit")
  if type(a) == "table" and type(a.record) == "function" then a.record(action, detail) end
end

-- analyze{...} -> verdict (docs/canary.md).
function M.analyze(opts)
  local o = argcheck.guard("canary.analyze", 2, check, opts)
  if not o.measure then
    -- A template that does not exist or lacks a variable is a mistake in
    -- the runbook or summit.lua: said now, not as measurement errors.
    for _, m in ipairs(o.metrics) do
      for _, src in ipairs({ m.source, m.baseline or false }) do
        if src and src.template then
          local fine, e = pcall(promql, src)
          if not fine then
            error(string.format("canary.analyze: metric '%s': %s", m.name, err_text(e)), 2)
          end
        end
      end
    end
  end
  return api.step("canary " .. o.name, function()
    local states = {}
    for i, m in ipairs(o.metrics) do states[i] = new_state(m) end
    local measurements = {}
    local rounds = 0
    for round = 1, o.count do
      -- Which metrics are still measured: deciding ones until decided;
      -- dry-run ones while the deciding ones are (or on their own).
      local active, deciding_left = {}, false
      for _, st in ipairs(states) do
        if not st.verdict and not st.metric.dry_run then deciding_left = true end
      end
      local any_deciding = false
      for _, st in ipairs(states) do if not st.metric.dry_run then any_deciding = true end end
      for _, st in ipairs(states) do
        if not st.verdict and (deciding_left or not any_deciding) then active[#active + 1] = st end
      end
      if #active == 0 then break end
      local wait = round == 1 and o.initial_delay_ms or o.interval_ms
      if wait > 0 then api.sleep(wait / 1000) end
      local recs = api.step(string.format("measurement %d of %d", round, o.count), function()
        local at = api.now()
        local list = {}
        for i, st in ipairs(active) do list[i] = measure_metric(o, st.metric, round, at) end
        audit_record(o, "canary.measurement", { analysis = o.name, round = round, measurements = list })
        return list
      end)
      rounds = round
      for i, rec in ipairs(recs) do
        local st = active[i]
        measurements[#measurements + 1] = rec
        apply(st, rec, o.count)
      end
      if ending(o, states) then break end
    end
    local verdict, reason, score = conclude(o, states)
    local metrics = {}
    for _, st in ipairs(states) do metrics[st.metric.name] = metric_summary(st) end
    local v = { verdict = verdict, reason = reason, score = score, rounds = rounds,
                count = o.count, name = o.name, metrics = metrics, measurements = measurements }
    audit_record(o, "canary.verdict", v)
    return v
  end)
end

-- For tests and other stdlib modules: the rules without the journal.
M._check = function(opts) return check(opts) end

return M
