-- summit.stats: the statistics behind summit.canary, for runbooks too.
--
--   median, mean, quantile (R type 7), ranks (average ranks of ties)
--   pnorm, qnorm: the standard normal distribution
--   mann_whitney(x, y, opts): the two-sample Wilcoxon rank-sum test
--     (Mann-Whitney U), as R's wilcox.test and scipy.stats.mannwhitneyu
--     compute it: exact p-values for small samples without ties, else the
--     normal approximation with the tie correction and (by default) the
--     continuity correction
--   hodges_lehmann(x, y): the median of all pairwise differences x[i] - y[j]
--   shift_interval(x, y, confidence): the confidence interval of that shift
--     (Bauer 1972, as R's wilcox.test(conf.int = TRUE) for exact samples;
--     otherwise the large-sample interval of Hollander & Wolfe)
--
-- Pure Lua, no I/O, no journal entries: safe anywhere.
local argcheck = require("summit.args")

local M = {}

local floor, sqrt, exp, abs, huge = math.floor, math.sqrt, math.exp, math.abs, math.huge

local argerr = argcheck.raiser("stats.")

-- Checks a list of numbers; returns it.
local function numbers(fname, arg, xs, allow_empty)
  if type(xs) ~= "table" then argerr(fname, arg, "a list of numbers expected") end
  if #xs == 0 and not allow_empty then argerr(fname, arg, "an empty list") end
  for i = 1, #xs do
    local v = xs[i]
    if type(v) ~= "number" or v ~= v then
      argerr(fname, arg, string.format("item %d is %s, not a number", i,
        v ~= v and "NaN" or tostring(v)))
    end
  end
  return xs
end

local function sorted(xs)
  local s = {}
  for i = 1, #xs do s[i] = xs[i] end
  table.sort(s)
  return s
end

-- mean(xs) -> the arithmetic mean.
function M.mean(xs)
  numbers("mean", "xs", xs)
  local s = 0
  for i = 1, #xs do s = s + xs[i] end
  return s / #xs
end

local function median_sorted(s)
  local n = #s
  if n % 2 == 1 then return s[(n + 1) / 2] end
  return (s[n / 2] + s[n / 2 + 1]) / 2
end

-- median(xs) -> the middle value (the mean of the two middle ones).
function M.median(xs)
  numbers("median", "xs", xs)
  return median_sorted(sorted(xs))
end

-- quantile(xs, p) -> the p-quantile with linear interpolation between
-- order statistics (R's default, type 7; numpy's default "linear").
function M.quantile(xs, p)
  numbers("quantile", "xs", xs)
  if type(p) ~= "number" or p < 0 or p > 1 then argerr("quantile", "p", "a number in [0, 1]") end
  local s = sorted(xs)
  local h = (#s - 1) * p + 1
  local lo = floor(h)
  if lo >= #s then return s[#s] end
  return s[lo] + (h - lo) * (s[lo + 1] - s[lo])
end

-- ranks(xs) -> ranks (1-based; ties get the mean of the ranks they span),
-- and the list of the sizes of the tied groups (only groups of 2 or more).
function M.ranks(xs)
  numbers("ranks", "xs", xs, true)
  local n = #xs
  local idx = {}
  for i = 1, n do idx[i] = i end
  table.sort(idx, function(a, b) return xs[a] < xs[b] end)
  local r, ties = {}, {}
  local i = 1
  while i <= n do
    local j = i
    while j < n and xs[idx[j + 1]] == xs[idx[i]] do j = j + 1 end
    local avg = (i + j) / 2
    for k = i, j do r[idx[k]] = avg end
    if j > i then ties[#ties + 1] = j - i + 1 end
    i = j + 1
  end
  return r, ties
end

-- ---- the normal distribution ----

local SQRT_PI = sqrt(math.pi)

-- erfc(x) for x >= 0: a series with positive terms below 3 (full
-- precision relative to 1), Lentz's continued fraction above (full
-- relative precision in the tail).
local function erfc_pos(x)
  if x == 0 then return 1 end
  if x < 3 then
    local sum, term, n = x, x, 0
    repeat
      n = n + 1
      term = term * 2 * x * x / (2 * n + 1)
      sum = sum + term
    until term < sum * 1e-17
    return 1 - 2 / SQRT_PI * exp(-x * x) * sum
  end
  -- erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...))))
  local tiny = 1e-300
  local f = x
  local C, D = f, 0
  for k = 1, 500 do
    local a = k / 2
    D = x + a * D
    if D == 0 then D = tiny end
    C = x + a / C
    if C == 0 then C = tiny end
    D = 1 / D
    local delta = C * D
    f = f * delta
    if abs(delta - 1) < 1e-16 then break end
  end
  return exp(-x * x) / SQRT_PI / f
end

-- pnorm(z) -> P(Z <= z) for a standard normal Z; pnorm(z, true) -> P(Z > z).
function M.pnorm(z, upper)
  if type(z) ~= "number" then argerr("pnorm", "z", "a number expected") end
  if z ~= z then return z end
  if upper then z = -z end
  local t = -z / math.sqrt(2)
  if t >= 0 then return 0.5 * erfc_pos(t) end
  return 1 - 0.5 * erfc_pos(-t)
end

local function dnorm(z) return exp(-z * z / 2) / sqrt(2 * math.pi) end

-- qnorm(p) -> z with pnorm(z) = p: Acklam's rational approximation
-- (relative error 1.2e-9), polished by Newton steps on pnorm.
function M.qnorm(p)
  if type(p) ~= "number" or p ~= p or p < 0 or p > 1 then
    argerr("qnorm", "p", "a probability in [0, 1] expected")
  end
  if p == 0 then return -huge end
  if p == 1 then return huge end
  local a = { -3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
              1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00 }
  local b = { -5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
              6.680131188771972e+01, -1.328068155288572e+01 }
  local c = { -7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
              -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00 }
  local d = { 7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
              3.754408661907416e+00 }
  local x
  if p < 0.02425 then
    local q = sqrt(-2 * math.log(p))
    x = (((((c[1] * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) * q + c[6]) /
        ((((d[1] * q + d[2]) * q + d[3]) * q + d[4]) * q + 1)
  elseif p <= 1 - 0.02425 then
    local q = p - 0.5
    local r = q * q
    x = (((((a[1] * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * r + a[6]) * q /
        (((((b[1] * r + b[2]) * r + b[3]) * r + b[4]) * r + b[5]) * r + 1)
  else
    local q = sqrt(-2 * math.log(1 - p))
    x = -(((((c[1] * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) * q + c[6]) /
         ((((d[1] * q + d[2]) * q + d[3]) * q + d[4]) * q + 1)
  end
  for _ = 1, 3 do
    -- Newton on the tail that keeps precision.
    local e = x < 0 and (M.pnorm(x) - p) or ((1 - p) - M.pnorm(x, true))
    local step = e / dnorm(x)
    x = x - step
    if abs(step) < 1e-15 * (1 + abs(x)) then break end
  end
  return x
end

-- ---- the exact distribution of U (no ties) ----

-- The number of arrangements with each value of U for samples of sizes m
-- and n, for u = 0 .. floor(m n / 2) (the distribution is symmetric about
-- m n / 2): the coefficients of the Gaussian binomial coefficient
-- [m + n choose m]_q = prod_{i=1..m} (1 - q^(n+i)) / (1 - q^i) (Harding 1984).
local counts_cache = {}
local function u_counts(m, n)
  if m > n then m, n = n, m end
  local id = m .. "x" .. n
  if counts_cache[id] then return counts_cache[id] end
  local K = floor(m * n / 2)
  local c = { [0] = 1 }
  for k = 1, K do c[k] = 0 end
  for i = 1, m do
    local s = n + i
    for k = K, s, -1 do c[k] = c[k] - c[k - s] end   -- times (1 - q^s)
    for k = i, K do c[k] = c[k] + c[k - i] end       -- divided by (1 - q^i)
  end
  local total = 1
  for i = 1, m do total = total * (n + i) / i end    -- C(m + n, m)
  local cdf, acc = { [-1] = 0 }, 0
  for k = 0, K do
    acc = acc + c[k]
    cdf[k] = acc / total
  end
  local r = { K = K, mn = m * n, cdf = cdf, total = total }
  counts_cache[id] = r
  return r
end

-- P(U <= u) under the null hypothesis, exactly (samples without ties).
local function pwilcox(u, m, n)
  local d = u_counts(m, n)
  u = floor(u)
  if u < 0 then return 0 end
  if u >= d.mn then return 1 end
  if u <= d.K then return d.cdf[u] end
  return 1 - d.cdf[d.mn - u - 1]          -- symmetry: P(U >= mn - u') ...
end
M.pwilcox = function(u, m, n)
  if type(u) ~= "number" then argerr("pwilcox", "u", "a number expected") end
  if type(m) ~= "number" or m < 1 or m ~= floor(m) then argerr("pwilcox", "m", "a whole number >= 1") end
  if type(n) ~= "number" or n < 1 or n ~= floor(n) then argerr("pwilcox", "n", "a whole number >= 1") end
  return pwilcox(u, m, n)
end

-- The smallest q with P(U <= q) >= p (R's qwilcox).
local function qwilcox(p, m, n)
  local q = 0
  while q < m * n and pwilcox(q, m, n) < p - 1e-12 do q = q + 1 end
  return q
end

-- ---- Mann-Whitney U ----

local ALTERNATIVES = { ["two-sided"] = "two-sided", ["two.sided"] = "two-sided",
                       greater = "greater", less = "less" }

-- Chooses exact or asymptotic: exact when asked, or by default when both
-- samples are under 50 values and there are no ties (R's rule).
local function pick_method(fname, method, m, n, tied)
  method = method or "auto"
  if method ~= "auto" and method ~= "exact" and method ~= "asymptotic" then
    argerr(fname, "method", "\"auto\", \"exact\" or \"asymptotic\"")
  end
  if method == "auto" then
    return (m < 50 and n < 50 and not tied) and "exact" or "asymptotic"
  end
  if method == "exact" and tied then
    argerr(fname, "method", "the exact distribution needs samples without ties")
  end
  return method
end

-- mann_whitney(x, y [, { alternative = "two-sided"|"greater"|"less",
--   correct = true, method = "auto"|"exact"|"asymptotic" }])
-- -> { u = U of x (the number of pairs with x > y, ties counting 1/2),
--      u_y = m n - u, p, method = "exact"|"asymptotic", z (asymptotic),
--      n_x, n_y, ties = sizes of tied groups }.
-- "greater" is the alternative that x tends to be larger than y.
function M.mann_whitney(x, y, opts)
  numbers("mann_whitney", "x", x)
  numbers("mann_whitney", "y", y)
  local o = opts or {}
  if type(o) ~= "table" then argerr("mann_whitney", "opts", "a table expected") end
  local alt = ALTERNATIVES[o.alternative or "two-sided"]
  if not alt then argerr("mann_whitney", "alternative", "\"two-sided\", \"greater\" or \"less\"") end
  local m, n = #x, #y
  local all = {}
  for i = 1, m do all[i] = x[i] end
  for j = 1, n do all[m + j] = y[j] end
  local r, ties = M.ranks(all)
  local rx = 0
  for i = 1, m do rx = rx + r[i] end
  local u = rx - m * (m + 1) / 2
  local res = { u = u, u_y = m * n - u, n_x = m, n_y = n, ties = ties,
                alternative = alt }
  res.method = pick_method("mann_whitney", o.method, m, n, #ties > 0)
  if res.method == "exact" then
    local p
    if alt == "two-sided" then
      if u > m * n / 2 then p = 1 - pwilcox(u - 1, m, n) else p = pwilcox(u, m, n) end
      p = math.min(1, 2 * p)
    elseif alt == "greater" then
      p = 1 - pwilcox(u - 1, m, n)
    else
      p = pwilcox(u, m, n)
    end
    res.p = p
    return res
  end
  local tie_sum = 0
  for _, t in ipairs(ties) do tie_sum = tie_sum + t * t * t - t end
  local N = m + n
  local sigma = sqrt(m * n / 12 * ((N + 1) - tie_sum / (N * (N - 1))))
  local zc = u - m * n / 2
  local corr = 0
  if o.correct ~= false then
    if alt == "two-sided" then corr = zc > 0 and 0.5 or (zc < 0 and -0.5 or 0)
    elseif alt == "greater" then corr = 0.5
    else corr = -0.5 end
  end
  if sigma == 0 then
    -- Every value is the same: nothing to tell the samples apart.
    res.z, res.p = 0, 1
    return res
  end
  local z = (zc - corr) / sigma
  res.z = z
  if alt == "two-sided" then
    res.p = math.min(1, 2 * math.min(M.pnorm(z), M.pnorm(z, true)))
  elseif alt == "greater" then
    res.p = M.pnorm(z, true)
  else
    res.p = M.pnorm(z)
  end
  return res
end

-- The m n pairwise differences x[i] - y[j], sorted.
local function differences(x, y)
  local d = {}
  for i = 1, #x do
    for j = 1, #y do d[#d + 1] = x[i] - y[j] end
  end
  table.sort(d)
  return d
end

-- hodges_lehmann(x, y) -> the median of the pairwise differences
-- x[i] - y[j]: the estimate of how far x is shifted from y.
function M.hodges_lehmann(x, y)
  numbers("hodges_lehmann", "x", x)
  numbers("hodges_lehmann", "y", y)
  return median_sorted(differences(x, y))
end

-- shift_interval(x, y, confidence [, method]) -> lower, upper, info: a
-- two-sided confidence interval for the shift of x against y, from the
-- order statistics of the pairwise differences D(1) <= ... <= D(mn):
-- [D(k), D(mn + 1 - k)]. Exact (Bauer 1972; R's wilcox.test): k is the
-- alpha/2 quantile of U, at least 1. Asymptotic (Hollander & Wolfe,
-- ties corrected): k = round(mn/2 - z(1 - alpha/2) sigma), at least 1.
-- info = { k, method, achieved = the confidence the exact interval has,
-- estimate = the Hodges-Lehmann estimate }.
function M.shift_interval(x, y, confidence, method)
  numbers("shift_interval", "x", x)
  numbers("shift_interval", "y", y)
  if type(confidence) ~= "number" or confidence <= 0 or confidence >= 1 then
    argerr("shift_interval", "confidence", "a number between 0 and 1 (e.g. 0.95)")
  end
  local m, n = #x, #y
  local d = differences(x, y)
  local mn = m * n
  local all = {}
  for i = 1, m do all[i] = x[i] end
  for j = 1, n do all[m + j] = y[j] end
  local _, ties = M.ranks(all)
  local alpha = 1 - confidence
  local info = { estimate = median_sorted(d) }
  info.method = pick_method("shift_interval", method, m, n, #ties > 0)
  local k
  if info.method == "exact" then
    k = qwilcox(alpha / 2, m, n)
    if k == 0 then k = 1 end
    info.achieved = 1 - 2 * pwilcox(k - 1, m, n)
  else
    local tie_sum = 0
    for _, t in ipairs(ties) do tie_sum = tie_sum + t * t * t - t end
    local N = m + n
    local sigma = sqrt(mn / 12 * ((N + 1) - tie_sum / (N * (N - 1))))
    k = floor(mn / 2 - M.qnorm(1 - alpha / 2) * sigma + 0.5)
    if k < 1 then k = 1 end
  end
  info.k = k
  return d[k], d[mn + 1 - k], info
end

-- The smallest two-sided p-value samples of these sizes can give (the
-- most extreme U, without ties): a test at `confidence` can only ever
-- tell the samples apart when this is below 1 - confidence.
function M.min_p(m, n)
  if m < 50 and n < 50 then return math.min(1, 2 * pwilcox(0, m, n)) end
  local sigma = sqrt(m * n / 12 * (m + n + 1))
  return 2 * M.pnorm(-(m * n / 2 - 0.5) / sigma)
end

return M
