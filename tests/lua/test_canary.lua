-- summit.canary and summit.stats: the decision rules of canary analysis
-- (docs/canary.md), fed with sequences of values through the `measure`
-- option (no Prometheus needed), and the statistics against reference
-- values of known implementations (each one cited where it is used).
local canary = require("summit.canary")
local stats = require("summit.stats")

local function raises(fn, pattern)
  local ok, err = pcall(fn)
  assert(not ok, "expected an error matching " .. pattern)
  local text = tostring(err)
  assert(text:find(pattern), "error '" .. text .. "' does not match '" .. pattern .. "'")
  return err
end

local function near(a, b, tol, what)
  tol = tol or 1e-9
  assert(type(a) == "number", (what or "value") .. ": not a number: " .. tostring(a))
  local ok = math.abs(a - b) <= tol * math.max(1, math.abs(b))
  assert(ok, string.format("%s: got %.17g, expected %.17g", what or "value", a, b))
end

local NONE = {}                                -- the query returned no series
local NAN = 0 / 0
local ERR = setmetatable({}, { __tostring = function() return "ERR" end })

-- seq{ metric = { v1, v2, ... }, ["metric/baseline"] = {...} } -> a measure
-- function giving value i in round i (NONE = no series, ERR = a Prometheus
-- error). The requests are kept in `asked`.
local asked
local function seq(t)
  asked = {}
  return function(req)
    asked[#asked + 1] = req
    local key = req.side == "baseline" and (req.metric .. "/baseline") or req.metric
    local list = assert(t[key], "no values for " .. key)
    local v = list[req.round]
    if v == nil then v = list[#list] end        -- the last value repeats
    if v == NONE then return nil end
    if v == ERR then
      error({ code = "EPROMQL", error_type = "bad_data", message = "parse error at char 5" }, 0)
    end
    return v
  end
end

local function rep(v, n)
  local t = {}
  for i = 1, n do t[i] = v end
  return t
end

-- analyze with interval 0 (no sleeps) and the given sequences.
local function run(o, values)
  o.interval = o.interval or 0
  o.measure = seq(values)
  return canary.analyze(o)
end

local function outcomes(v, metric)
  local t = {}
  for _, m in ipairs(v.measurements) do
    if not metric or m.metric == metric then t[#t + 1] = m.outcome end
  end
  return table.concat(t, ",")
end

local function expect(v, verdict, pattern, what)
  assert(v.verdict == verdict, string.format("%s: verdict %s (%s), expected %s", what,
    tostring(v.verdict), tostring(v.reason), verdict))
  if pattern then
    assert(tostring(v.reason):find(pattern), string.format("%s: reason '%s' does not match '%s'",
      what, tostring(v.reason), pattern))
  end
end

local ER = { name = "error_rate", query = 'sum(rate(errors[1m])) / sum(rate(requests[1m]))', max = 0.01 }
local function er(extra)
  local m = {}
  for k, v in pairs(ER) do m[k] = v end
  for k, v in pairs(extra or {}) do m[k] = v end
  return m
end

local function stats_tests()
  -- scipy.stats.mannwhitneyu documentation, "Examples" (SciPy 1.10): ages
  -- of males and females; U1 = 17, exact p = 0.1111111111111111,
  -- method="asymptotic" p = 0.11134688653314041 and, without the
  -- continuity correction, 0.0864107329737.
  local males, females = { 19, 22, 16, 29, 24 }, { 20, 11, 17, 12 }
  local r = stats.mann_whitney(males, females)
  assert(r.u == 17 and r.method == "exact", r.u .. " " .. r.method)
  near(r.p, 0.1111111111111111, 1e-12, "scipy example, exact p")
  r = stats.mann_whitney(males, females, { method = "asymptotic" })
  near(r.p, 0.11134688653314041, 1e-12, "scipy example, asymptotic p")
  r = stats.mann_whitney(males, females, { method = "asymptotic", correct = false })
  near(r.p, 0.0864107329737, 1e-11, "scipy example, asymptotic p without continuity correction")

  -- R's wilcox.test documentation, "Examples" (Hollander & Wolfe (1973),
  -- 69f., permeability constants of the human chorioamnion): W = 35,
  -- alternative = "greater": exact p-value = 0.1272; with exact = FALSE,
  -- correct = FALSE (H&W's large-sample approximation): 0.1103. (Full
  -- digits from scipy.stats.mannwhitneyu on the same data: 0.1272061272061272
  -- and 0.11033568095992347.)
  local x = { 0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46 }
  local y = { 1.15, 0.88, 0.90, 0.74, 1.21 }
  r = stats.mann_whitney(x, y, { alternative = "greater" })
  assert(r.u == 35 and r.method == "exact")
  near(r.p, 0.1272061272061272, 1e-12, "R wilcox.test example, exact p")
  r = stats.mann_whitney(x, y, { alternative = "greater", method = "asymptotic", correct = false })
  near(r.p, 0.11033568095992347, 1e-12, "R wilcox.test example, large-sample p")
  r = stats.mann_whitney(x, y, { alternative = "less" })
  near(r.p, 0.8967698967698966, 1e-12, "less (scipy, same data)")
  r = stats.mann_whitney(x, y)
  near(r.p, 0.2544122544122544, 1e-12, "two-sided = twice the smaller tail")

  -- Ties: average ranks and the tie-corrected variance. R's output for
  -- wilcox.test(x, y) on this data, as printed at endmemo.com/r/wilcoxon.php:
  -- "Wilcoxon rank sum test with continuity correction, W = 51.5,
  -- p-value = 0.5966" and, against the second y, "W = 0, p-value = 0.001364"
  -- (scipy gives 0.5965969026279817 and 0.0013643929543816092).
  local tx = { 1, 5, 9, 24, 56, 21, 3, 7, 21, 4 }
  local ty = { 12, 15, 5, 9, 9, 14, 56, 22, 3, 7, 32, 5 }
  r = stats.mann_whitney(tx, ty)
  assert(r.u == 51.5 and r.method == "asymptotic", tostring(r.u) .. " " .. r.method)
  near(r.p, 0.5965969026279817, 1e-11, "R example with ties")
  r = stats.mann_whitney(tx, { 1233, 4356, 987, 39999, 1111, 200000 })
  assert(r.u == 0)
  near(r.p, 0.0013643929543816092, 1e-9, "R example with ties, second y")
  raises(function() stats.mann_whitney(tx, ty, { method = "exact" }) end, "without ties")

  local rk, ties = stats.ranks({ 10, 20, 20, 30, 20, 5 })
  assert(rk[1] == 2 and rk[2] == 4 and rk[3] == 4 and rk[5] == 4 and rk[4] == 6 and rk[6] == 1)
  assert(#ties == 1 and ties[1] == 3)

  -- The exact distribution against brute force: every rank set of size m
  -- out of m + n, counted here independently of stats.lua.
  for _, mn in ipairs({ { 3, 4 }, { 5, 5 }, { 2, 7 }, { 6, 3 } }) do
    local m, n = mn[1], mn[2]
    local count, total = {}, 0
    local function walk(start, left, sum)
      if left == 0 then
        local u = sum - m * (m + 1) / 2
        count[u] = (count[u] or 0) + 1
        total = total + 1
        return
      end
      for r2 = start, m + n - left + 1 do walk(r2 + 1, left - 1, sum + r2) end
    end
    walk(1, m, 0)
    local acc = 0
    for u = 0, m * n do
      acc = acc + (count[u] or 0)
      near(stats.pwilcox(u, m, n), acc / total, 1e-12, string.format("P(U <= %d | %d, %d)", u, m, n))
    end
  end

  -- Hodges-Lehmann: the median of the 50 differences x[i] - y[j] of the
  -- Hollander & Wolfe data is 0.305 (Python: statistics.median of them).
  -- The 95% interval [D(9), D(42)] = [-0.15, 0.76], at an achieved level of
  -- 0.96004: k = 9 is the 2.5% quantile of U (R's qwilcox(0.025, 10, 5),
  -- as wilcox.test(conf.int = TRUE) uses it, Bauer 1972); both checked by
  -- enumerating all C(15, 5) = 3003 rank sets in Python.
  near(stats.hodges_lehmann(x, y), 0.305, 1e-12, "Hodges-Lehmann estimate")
  local lo, hi, info = stats.shift_interval(x, y, 0.95)
  near(lo, -0.15, 1e-12, "CI lower")
  near(hi, 0.76, 1e-12, "CI upper")
  assert(info.k == 9 and info.method == "exact")
  near(info.achieved, 0.9600399600399601, 1e-12, "achieved confidence")
  near(stats.hodges_lehmann({ 1, 2, 3 }, { 1, 2, 3, 4 }), -0.5, 0, "HL with an even count")
  -- With ties the interval is the large-sample one and still holds the estimate.
  lo, hi, info = stats.shift_interval(tx, ty, 0.95)
  assert(info.method == "asymptotic" and lo <= info.estimate and info.estimate <= hi)

  -- The normal distribution (scipy.stats.norm.ppf / cdf / sf).
  near(stats.qnorm(0.975), 1.959963984540054, 1e-13, "qnorm(0.975)")
  near(stats.qnorm(0.99), 2.3263478740408408, 1e-13, "qnorm(0.99)")
  near(stats.qnorm(0.005), -2.5758293035489004, 1e-13, "qnorm(0.005)")
  near(stats.pnorm(-5), 2.866515718791933e-07, 1e-12, "pnorm(-5)")
  near(stats.pnorm(8, true), 6.22096057427174e-16, 1e-12, "upper tail at 8")
  near(stats.pnorm(0), 0.5, 1e-15, "pnorm(0)")

  near(stats.median({ 3, 1, 2 }), 2, 0, "median")
  near(stats.quantile({ 1, 2, 3, 4 }, 0.25), 1.75, 1e-15, "type-7 quartile")
  near(stats.mean({ 1, 2, 6 }), 3, 0, "mean")
  raises(function() stats.median({}) end, "bad argument 'xs'")
  raises(function() stats.mann_whitney({ 1, NAN }, { 2 }) end, "item 2 is NaN")
end

local function rule_tests()
  -- No condition: every measurement is successful (Argo).
  local v = run({ count = 2, metrics = { { name = "rps", query = "sum(rate(requests[1m]))" } } },
    { rps = { 5, 6 } })
  expect(v, "successful", nil, "no condition")
  assert(v.rounds == 2 and #v.measurements == 2)

  -- failure_limit 0 (the default): the first failed measurement fails
  -- the metric and ends the analysis at once.
  v = run({ count = 5, metrics = { er() } }, { error_rate = { 0.001, 0.02, 0.001 } })
  expect(v, "failed", "more than failure_limit 0", "first failure")
  assert(v.rounds == 2 and outcomes(v) == "successful,failed", outcomes(v))
  local mm = v.measurements[2]
  assert(mm.metric == "error_rate" and mm.value == 0.02 and mm.round == 2)
  assert(mm.query == ER.query and mm.condition == "value <= 0.01" and type(mm.at) == "number")
  assert(mm.reason:find("value 0.02 > max 0.01", 1, true), mm.reason)
  assert(v.metrics.error_rate.verdict == "failed" and v.metrics.error_rate.failed == 1)
  assert(v.reason:find("round 2: value 0.02 > max 0.01", 1, true), v.reason)

  -- failure_limit 2: two failures within 5 -> count reached, successful;
  -- a third failure fails at once.
  v = run({ count = 5, failure_limit = 2, metrics = { er() } },
    { error_rate = { 0.02, 0.001, 0.02, 0.001, 0.001 } })
  expect(v, "successful", "count 5 reached with failures within failure_limit 2", "two failures")
  assert(v.rounds == 5 and v.metrics.error_rate.failed == 2)
  v = run({ count = 5, failure_limit = 2, metrics = { er() } },
    { error_rate = { 0.02, 0.02, 0.001, 0.02, 0.001 } })
  expect(v, "failed", "3 failed measurements, more than failure_limit 2", "three failures")
  assert(v.rounds == 4)

  -- failure_limit -1 and no consecutive_success: nothing can fail; count
  -- reached -> successful (Argo's rule; said in the reason).
  v = run({ count = 3, failure_limit = -1, metrics = { er() } }, { error_rate = { 0.5 } })
  expect(v, "successful", "failure_limit is off", "failure limit off")
  assert(v.metrics.error_rate.failed == 3)

  -- consecutive_success 3: decided after three successes in a row.
  v = run({ count = 10, consecutive_success = 3, failure_limit = 5, metrics = { er() } },
    { error_rate = { 0.001, 0.02, 0.001, 0.001, 0.001, 0.001 } })
  expect(v, "successful", "3 consecutive successful", "consecutive success")
  assert(v.rounds == 5, v.rounds)

  -- count reached with each combination of limits:
  -- only consecutive_success (failure_limit -1) -> failed,
  v = run({ count = 5, failure_limit = -1, consecutive_success = 2, metrics = { er() } },
    { error_rate = { 0.001, 0.02, 0.001, 0.02, 0.001 } })
  expect(v, "failed", "count 5 reached without 2 consecutive", "only consecutive_success")
  -- both -> inconclusive,
  v = run({ count = 5, failure_limit = 3, consecutive_success = 3, metrics = { er() } },
    { error_rate = { 0.001, 0.02, 0.001, 0.001, 0.02 } })
  expect(v, "inconclusive", "consecutive_success 3 was not reached", "both limits")
  -- only failure_limit -> successful (above), neither -> successful (above).

  -- Argo's success / failure conditions and the inconclusive outcome.
  local both = { name = "lat", query = "p99", success = function(x) return x < 100 end,
                 failure = function(x) return x > 200 end }
  v = run({ count = 3, metrics = { both } }, { lat = { 50, 150, 50 } })
  expect(v, "inconclusive", "more than inconclusive_limit 0", "gray zone")
  assert(v.rounds == 2 and v.measurements[2].reason:find("neither success", 1, true))
  v = run({ count = 4, inconclusive_limit = 1, metrics = { both } }, { lat = { 50, 150, 50, 50 } })
  expect(v, "successful", nil, "one inconclusive within the limit")
  v = run({ count = 4, inconclusive_limit = 1, metrics = { both } }, { lat = { 150, 50, 150, 50 } })
  expect(v, "inconclusive", "2 inconclusive measurements", "two inconclusive over the limit 1")
  v = run({ count = 1, metrics = { both } }, { lat = { 250 } })
  expect(v, "failed", "failure%(value%) is true", "failure true")
  v = run({ count = 1, metrics = { { name = "lat", query = "p99", success = function(x) return x < 100 end } } },
    { lat = { 150 } })
  expect(v, "failed", "success%(value%) is false", "only success, false")
  v = run({ count = 1, metrics = { { name = "lat", query = "p99", failure = function(x) return x > 200 end } } },
    { lat = { 150 } })
  expect(v, "successful", nil, "only failure, false")
  v = run({ count = 1, metrics = { { name = "lat", query = "p99", failure = function(x) return x.y end } } },
    { lat = { 150 } })
  assert(v.measurements[1].outcome == "error" and v.measurements[1].error:find("ECONDITION"))

  -- consecutive_error_limit (default 4): 5 errors in a row -> error.
  v = run({ count = 10, metrics = { er() } }, { error_rate = { ERR } })
  expect(v, "error", "5 consecutive measurement errors, more than consecutive_error_limit 4", "errors")
  assert(v.rounds == 5)
  local e = v.measurements[1]
  assert(e.outcome == "error" and e.error:find("EPROMQL: parse error", 1, true), e.error)
  -- any other outcome resets the streak
  v = run({ count = 7, consecutive_error_limit = 2, metrics = { er() } },
    { error_rate = { ERR, ERR, 0.001, ERR, ERR, 0.001, ERR } })
  expect(v, "successful", "count 7 reached", "interrupted errors")
  assert(v.metrics.error_rate.error == 5)
  v = run({ count = 7, consecutive_error_limit = 2, metrics = { er() } },
    { error_rate = { ERR, 0.001, ERR, ERR, ERR } })
  expect(v, "error", "3 consecutive", "three in a row over the limit 2")
  -- errors only, under the limit, count reached: never a pass without data
  v = run({ count = 2, metrics = { er() } }, { error_rate = { ERR } })
  expect(v, "error", "no measurement gave a value", "only errors")
  -- a query with several series is an error, not a silent pick
  v = run({ count = 1, metrics = { er() } },
    { error_rate = { { { labels = { pod = "a" }, value = 0.1 }, { labels = { pod = "b" }, value = 0 } } } })
  assert(v.measurements[1].outcome == "error" and v.measurements[1].error:find("2 series"))
  -- a one-series vector (metrics.query's shape) and Prometheus strings
  v = run({ count = 1, metrics = { er() } }, { error_rate = { { { labels = {}, value = "0.002" } } } })
  expect(v, "successful", nil, "vector of one series")
  assert(v.measurements[1].value == 0.002)
end

local function no_data_tests()
  -- fail: no data is a failed measurement
  local v = run({ count = 3, no_data = "fail", metrics = { er() } }, { error_rate = { NONE } })
  expect(v, "failed", "no data: the query returned no series", "no_data fail")
  assert(v.measurements[1].no_data == true and v.rounds == 1)
  -- inconclusive (the default): NaN (0/0, no traffic) is no data too
  v = run({ count = 3, metrics = { er() } }, { error_rate = { 0.001, NAN } })
  expect(v, "inconclusive", "returned NaN", "no_data inconclusive")
  assert(v.measurements[2].value == "NaN", tostring(v.measurements[2].value))
  -- ignore: neither a pass nor a failure; the others decide
  v = run({ count = 4, no_data = "ignore", metrics = { er() } },
    { error_rate = { NONE, 0.001, NONE, 0.002 } })
  expect(v, "successful", "2 without data", "no_data ignore")
  assert(outcomes(v) == "ignored,successful,ignored,successful", outcomes(v))
  v = run({ count = 4, no_data = "ignore", metrics = { er() } }, { error_rate = { NONE, 0.02 } })
  expect(v, "failed", nil, "ignore, then a failure")
  -- ignore everywhere: never a pass without data
  v = run({ count = 3, no_data = "ignore", metrics = { er() } }, { error_rate = { NONE } })
  expect(v, "inconclusive", "no measurement had data", "no data at all")
  -- per-metric policy overrides the analysis' one
  v = run({ count = 2, no_data = "ignore", metrics = { er({ no_data = "fail" }) } },
    { error_rate = { NONE } })
  expect(v, "failed", nil, "per-metric no_data")
  -- +Inf is a value, not missing data
  v = run({ count = 1, metrics = { er() } }, { error_rate = { math.huge } })
  expect(v, "failed", "value %+Inf > max 0.01", "+Inf")
  assert(v.measurements[1].value == "+Inf")
  -- a baseline without data
  v = run({ count = 1, no_data = "fail", metrics = { er({ baseline = "stable", max_increase = 0.1 }) } },
    { error_rate = { 0.001 }, ["error_rate/baseline"] = { NONE } })
  expect(v, "failed", "the baseline query returned no series", "baseline without data")
end

local function dry_run_tests()
  -- A dry-run metric is measured and reported but never decides.
  local v = run({ count = 3, metrics = { er(), { name = "cpu", query = "cpu", max = 0.5, dry_run = true } } },
    { error_rate = { 0.001 }, cpu = { 0.9 } })
  expect(v, "successful", nil, "dry run failing")
  assert(v.metrics.cpu.verdict == "failed" and v.metrics.cpu.dry_run == true)
  assert(outcomes(v, "cpu") == "failed", outcomes(v, "cpu"))
  assert(v.measurements[2].dry_run == true)
  -- a dry-run metric whose own limits are not reached goes on being measured
  v = run({ count = 3, metrics = { er(), { name = "cpu", query = "cpu", max = 0.5, dry_run = true,
                                           failure_limit = -1 } } },
    { error_rate = { 0.001 }, cpu = { 0.9 } })
  assert(outcomes(v, "cpu") == "failed,failed,failed" and v.verdict == "successful")
  -- a failing deciding metric still fails next to a passing dry-run one
  v = run({ count = 3, metrics = { er(), { name = "cpu", query = "cpu", max = 0.5, dry_run = true } } },
    { error_rate = { 0.02 }, cpu = { 0.1 } })
  expect(v, "failed", "error_rate", "deciding metric fails")
  -- only dry-run metrics: nothing decides
  v = run({ count = 2, metrics = { { name = "cpu", query = "cpu", max = 0.5, dry_run = true, failure_limit = -1 } } },
    { cpu = { 0.9 } })
  expect(v, "successful", "dry_run", "all dry run")
  assert(v.rounds == 2 and v.metrics.cpu.failed == 2)
end

local function score_tests()
  local ok_a = { name = "a", query = "a", max = 1, weight = 3 }
  local bad_b = { name = "b", query = "b", max = 1, weight = 1 }
  local vals = { a = { 0.5 }, b = { 0.5, 2 } }
  -- Default mode: the worst metric wins; the weights only give the score.
  local v = run({ count = 3, metrics = { ok_a, bad_b } }, vals)
  expect(v, "failed", "metric 'b' failed", "worst wins")
  -- 'a' was still being measured when 'b' ended the analysis: it is
  -- reported as stopped and left out of the score.
  assert(v.rounds == 2 and v.score == 0, tostring(v.score))
  assert(v.metrics.a.verdict == "stopped" and v.metrics.a.successful == 2)
  -- With thresholds (Kayenta): a failing light metric does not fail the
  -- analysis when the weighted score passes; the others go on.
  v = run({ count = 3, thresholds = { pass = 75, marginal = 50 }, metrics = { ok_a, bad_b } }, vals)
  expect(v, "successful", "score 75 >= pass 75", "score passes")
  assert(v.reason:find("'b' failed (weight 1)", 1, true), v.reason)
  assert(v.rounds == 3 and outcomes(v, "a") == "successful,successful,successful")
  v = run({ count = 3, thresholds = { pass = 80, marginal = 50 }, metrics = { ok_a, bad_b } }, vals)
  expect(v, "inconclusive", "score 75 is marginal", "marginal score")
  v = run({ count = 3, thresholds = { pass = 90, marginal = 80 }, metrics = { ok_a, bad_b } }, vals)
  expect(v, "failed", "score 75 < marginal 80", "low score")
  -- A critical metric that fails fails the analysis at once, score 0.
  local crit = { name = "c", query = "c", max = 1, weight = 1, critical = true }
  v = run({ count = 5, thresholds = { pass = 10 }, metrics = { ok_a, crit } }, { a = { 0.5 }, c = { 2 } })
  expect(v, "failed", "critical metric 'c' failed", "critical")
  assert(v.rounds == 1 and v.score == 0 and #v.measurements == 2)
  -- ... even when its failure came with other failing metrics
  v = run({ count = 5, metrics = { bad_b, crit } }, { b = { 2 }, c = { 2 } })
  expect(v, "failed", "critical metric 'c'", "critical first")
  -- critical metric in error -> error
  v = run({ count = 5, consecutive_error_limit = 0, thresholds = { pass = 10 }, metrics = { ok_a, crit } },
    { a = { 0.5 }, c = { ERR } })
  expect(v, "error", "critical metric 'c' error", "critical error")
  -- metrics given by name run in name order
  v = run({ count = 1, metrics = { zeta = { query = "z", max = 1 }, alpha = { query = "a", max = 1 } } },
    { zeta = { 0 }, alpha = { 0 } })
  assert(v.measurements[1].metric == "alpha" and v.measurements[2].metric == "zeta")
end

local function relative_tests()
  local rel = { name = "error_rate", query = ER.query, max_increase = 0.10,
                baseline = 'sum(rate(errors{track="stable"}[1m])) / sum(rate(requests{track="stable"}[1m]))' }
  local v = run({ count = 1, metrics = { rel } }, { error_rate = { 0.021 }, ["error_rate/baseline"] = { 0.02 } })
  expect(v, "successful", nil, "within 10% of the baseline")
  assert(v.measurements[1].baseline == 0.02 and v.measurements[1].baseline_query:find("stable"))
  v = run({ count = 1, metrics = { rel } }, { error_rate = { 0.023 }, ["error_rate/baseline"] = { 0.02 } })
  expect(v, "failed", "value 0.023 > 0.022 = baseline 0.02 %+ 10%%", "over 10% of the baseline")
  -- A baseline of 0: the relative limit is 0, so any canary error fails
  -- (and the reason says why); margin = allows an absolute amount.
  v = run({ count = 1, metrics = { rel } }, { error_rate = { 0.001 }, ["error_rate/baseline"] = { 0 } })
  expect(v, "failed", "the baseline is 0", "zero baseline, relative only")
  local relm = { name = "error_rate", query = ER.query, baseline = "stable", max_increase = 0.10,
                 margin = 0.005 }
  v = run({ count = 1, metrics = { relm } }, { error_rate = { 0.001 }, ["error_rate/baseline"] = { 0 } })
  expect(v, "successful", nil, "zero baseline with a margin")
  -- max_decrease, for success rates
  local sr = { name = "success_rate", query = "sr", baseline = "sr_stable", max_decrease = 0.01, min = 0.99 }
  v = run({ count = 1, metrics = { sr } }, { success_rate = { 0.995 }, ["success_rate/baseline"] = { 0.999 } })
  expect(v, "successful", nil, "success rate close to production")
  v = run({ count = 1, metrics = { sr } }, { success_rate = { 0.985 }, ["success_rate/baseline"] = { 0.999 } })
  expect(v, "failed", "value 0.985 < min 0.99", "success rate below 99%")
  assert(#v.measurements[1].checks == 2 and v.measurements[1].checks[1].outcome == "failed")
end

-- Samples: a fixed pseudo-random sequence around `center` (no randomness:
-- the test must give the same numbers every time).
local function spread(center, n, width, seed)
  local t, s = {}, seed or 7
  for i = 1, n do
    s = (s * 1103515245 + 12345) % 2147483648
    t[i] = center + (s / 2147483648 - 0.5) * width
  end
  return t
end

local function compare_tests()
  local function lat(cmp, extra)
    local m = { name = "p99", query = "histogram_quantile(0.99, canary)", baseline = "histogram_quantile(0.99, stable)",
                compare = cmp, window = "5m", step = "15s" }
    for k, x in pairs(extra or {}) do
      if x == false then m[k] = nil else m[k] = x end
    end
    return m
  end
  local base = spread(100, 20, 10, 1)
  local slower = {}
  for i, x in ipairs(spread(100, 20, 10, 2)) do slower[i] = x * 1.2 end
  -- a 20% slower canary fails "within 10%" with direction = increase
  local v = run({ count = 1, metrics = { lat({ direction = "increase", effect = 0.10 }) } },
    { p99 = { slower }, ["p99/baseline"] = { base } })
  expect(v, "failed", "canary is higher than baseline", "slower canary")
  local st = v.measurements[1].checks[1].stats
  assert(st.lower > 10 and st.estimate > 15 and st.estimate < 25, st.lower .. " " .. st.estimate)
  assert(st.p < 1e-4 and st.n_canary == 20 and st.n_baseline == 20)
  assert(st.band[2] > 9.5 and st.band[2] < 10.5)
  assert(#v.measurements[1].values == 20 and v.measurements[1].range.step == 15)
  -- the request asked for a range over the window
  assert(asked[1].range and asked[1].range.stop - asked[1].range.start == 300, "window")
  -- without window/step the analysis' interval is the window, /30 the step
  -- (docs/canary.md), and a metric without them takes the analysis' own
  v = run({ count = 1, interval = "2m", metrics = { lat({ direction = "increase", effect = 0.10 },
    { window = false, step = false }) } }, { p99 = { slower }, ["p99/baseline"] = { base } })
  assert(asked[1].range.stop - asked[1].range.start == 120, "default window: the interval, "
    .. (asked[1].range.stop - asked[1].range.start))
  assert(asked[1].range.step == 4, "default step: window/30, " .. asked[1].range.step)
  v = run({ count = 1, interval = "2m", window = "10m", step = "1m",
            metrics = { lat({ direction = "increase", effect = 0.10 }, { window = false, step = false }) } },
    { p99 = { slower }, ["p99/baseline"] = { base } })
  assert(asked[1].range.stop - asked[1].range.start == 600, "the analysis' window")
  assert(asked[1].range.step == 60, "the analysis' step")
  -- only a decrease fails: the same data passes and says why
  v = run({ count = 1, metrics = { lat({ direction = "decrease", effect = 0.10 }) } },
    { p99 = { slower }, ["p99/baseline"] = { base } })
  expect(v, "successful", nil, "direction decrease")
  assert(v.measurements[1].reason:find("only a decrease fails", 1, true), v.measurements[1].reason)
  -- a 2% change is inside a 10% band
  local close = {}
  for i, x in ipairs(spread(100, 20, 10, 2)) do close[i] = x * 1.02 end
  v = run({ count = 1, metrics = { lat({ direction = "either", effect = 0.10 }) } },
    { p99 = { close }, ["p99/baseline"] = { base } })
  expect(v, "successful", nil, "close canary")
  assert(v.measurements[1].reason:find("no change beyond the tolerance band", 1, true))
  -- too few samples to tell at 98%: inconclusive, not a pass
  v = run({ count = 1, metrics = { lat({}) } }, { p99 = { { 1, 2, 3 } }, ["p99/baseline"] = { { 4, 5, 6 } } })
  expect(v, "inconclusive", "too few samples", "three samples each")
  -- identical samples pass (Kayenta)
  v = run({ count = 1, metrics = { lat({}) } }, { p99 = { { 3, 1, 2 } }, ["p99/baseline"] = { { 1, 2, 3 } } })
  expect(v, "successful", nil, "identical")
  assert(v.measurements[1].reason:find("identical", 1, true))
  -- NaN samples are dropped and counted; no samples at all is no data
  v = run({ count = 1, metrics = { lat({}) } },
    { p99 = { { 3, NAN, 1, 2 } }, ["p99/baseline"] = { { 1, 2, 3 } } })
  assert(v.measurements[1].dropped.canary == 1)
  v = run({ count = 1, metrics = { lat({}) } }, { p99 = { { NAN } }, ["p99/baseline"] = { { 1, 2, 3 } } })
  expect(v, "inconclusive", "no samples", "no samples")
  -- series in metrics.range's shape
  v = run({ count = 1, metrics = { lat({}) } },
    { p99 = { { { labels = {}, values = { { 1, "3" }, { 2, "1" }, { 3, "2" } } } } },
      ["p99/baseline"] = { { 1, 2, 3 } } })
  expect(v, "successful", nil, "range series")
  assert(v.measurements[1].reason:find("identical", 1, true))

  -- The Kayenta pitfall (kayenta#377): the baseline has no errors at all
  -- and the canary has errors in a quarter of its samples. Most canary
  -- samples tie with the baseline's zeros, the shift estimate is 0 and the
  -- rank test alone passes the canary.
  local zeros = rep(0, 20)
  local sparse = rep(0, 15)
  for i = 16, 20 do sparse[i] = 0.05 end       -- mean error rate 1.25%
  local rate = { name = "error_rate", query = "errors canary", baseline = "errors stable",
                 compare = { direction = "increase" } }
  v = run({ count = 1, metrics = { rate } }, { error_rate = { sparse }, ["error_rate/baseline"] = { zeros } })
  expect(v, "successful", nil, "the pitfall: the test alone passes")
  assert(v.measurements[1].reason:find("no change beyond the tolerance band", 1, true))
  assert(v.measurements[1].checks[1].stats.estimate == 0)
  -- With an absolute guard the canary fails: its mean error rate is 1.25%.
  rate.max = 0.01
  v = run({ count = 1, metrics = { rate } }, { error_rate = { sparse }, ["error_rate/baseline"] = { zeros } })
  expect(v, "failed", "value 0.0125 > max 0.01", "the pitfall: the absolute guard fails it")
  -- With only a relative condition the zero baseline makes the limit 0:
  -- it fails too (and says the baseline is 0).
  rate.max, rate.compare, rate.max_increase = nil, nil, 0.10
  v = run({ count = 1, metrics = { rate } }, { error_rate = { 0.0125 }, ["error_rate/baseline"] = { 0 } })
  expect(v, "failed", "the baseline is 0", "the pitfall: relative only")
  -- Errors in every canary sample: the interval is above 0, the band (25%
  -- of a zero median) is 0: it fails.
  v = run({ count = 1, metrics = { { name = "e", query = "c", baseline = "b",
                                    compare = { direction = "increase" } } } },
    { e = { spread(0.03, 20, 0.01, 3) }, ["e/baseline"] = { zeros } })
  expect(v, "failed", "canary is higher", "steady errors, band from the baseline")
  assert(v.measurements[1].checks[1].stats.band[2] == 0)
  -- Kayenta's own band (a fraction of the shift estimate) against steady errors
  v = run({ count = 1, metrics = { { name = "e", query = "c", baseline = "b",
                                    compare = { direction = "increase", band = "estimate" } } } },
    { e = { spread(0.03, 20, 0.01, 3) }, ["e/baseline"] = { zeros } })
  expect(v, "failed", "canary is higher", "steady errors against a zero baseline")
end

local function template_tests()
  -- Templates: the analysis' vars under the metric's, the baseline's over both.
  local v = run({ count = 1, vars = { app = "web", track = "canary" }, metrics = {
      { name = "error_rate", template = "error_rate", max_increase = 0.5,
        baseline = { vars = { track = "stable" } } } } },
    { error_rate = { 0.01 }, ["error_rate/baseline"] = { 0.01 } })
  expect(v, "successful", nil, "templates")
  assert(asked[1].template == "error_rate" and asked[1].vars.app == "web" and asked[1].vars.track == "canary")
  assert(asked[2].template == "error_rate" and asked[2].vars.app == "web" and asked[2].vars.track == "stable")
  assert(v.measurements[1].query == "template error_rate{app=web,track=canary}", v.measurements[1].query)
end

local function misuse_tests()
  local function bad(o, pattern)
    local e = raises(function() canary.analyze(o) end, pattern)
    assert(tostring(e):find("test_canary.lua:%d+"), "no runbook line in: " .. tostring(e))
  end
  local m = { name = "x", query = "q", max = 1 }
  bad({ metrics = { m }, count = 0 }, "bad argument 'count'")
  bad({ metrics = {} }, "bad argument 'metrics'")
  bad({ metrics = { m }, no_data = "maybe" }, "bad argument 'no_data'")
  bad({ metrics = { m }, intervall = "1m" }, "bad argument 'intervall' %(unknown option%)")
  bad({ metrics = { m }, interval = "soon" }, "bad argument 'interval'")
  bad({ metrics = { m }, failure_limit = -2 }, "bad argument 'failure_limit'")
  bad({ metrics = { m }, consecutive_success = 0 }, "bad argument 'consecutive_success'")
  bad({ metrics = { { name = "x", query = "q", max_increase = 0.1 } } }, "bad argument 'metrics%[1%]%.baseline'")
  bad({ metrics = { { name = "x", query = "q", compare = {} } } }, "needed by compare")
  bad({ metrics = { { name = "x", query = "q", baseline = "b", compare = { direction = "up" } } } },
    "metrics%[1%]%.compare%.direction")
  bad({ metrics = { { name = "x", query = "q", baseline = "b", compare = { confidence = 98 } } } },
    "compare%.confidence")
  bad({ metrics = { { name = "x", query = "q", max = "1%" } } }, "metrics%[1%]%.max")
  bad({ metrics = { { name = "x", query = "q", weight = 0 } } }, "metrics%[1%]%.weight")
  bad({ metrics = { { name = "x", query = "q", dry_run = true, critical = true } } }, "cannot be critical")
  bad({ metrics = { { name = "x" } } }, "a query %(PromQL%) or a template is needed")
  bad({ metrics = { { name = "x", query = "q", template = "t" } } }, "not both")
  bad({ metrics = { { name = "x", query = "q", maximum = 1 } } }, "metrics%[1%]%.maximum' %(unknown option%)")
  bad({ metrics = { m, m } }, "two metrics are named 'x'")
  bad({ metrics = { m }, thresholds = { pass = 50, marginal = 70 } }, "thresholds%.marginal")
  bad({ metrics = { { name = "x", query = "q", success = "x < 1" } } }, "metrics%[1%]%.success")
  bad({ metrics = { { name = "x", query = "q", max = 1, window = "5m" } } }, "only used by compare")
  bad("nope", "bad argument 'opts'")
  -- without a measure function, templates are rendered before anything runs
  bad({ metrics = { { name = "x", template = "no_such_template", max = 1 } } },
    "metric 'x': ETEMPLATE: no query template 'no_such_template'")
end

return runbook {
  name = "test-canary", version = "0.1.0",
  run = function()
    stats_tests()
    rule_tests()
    no_data_tests()
    dry_run_tests()
    score_tests()
    relative_tests()
    compare_tests()
    template_tests()
    misuse_tests()
    log.info("canary: all checks passed")
  end,
}
