---@meta summit.stats
-- Annotations for lua-language-server: require("summit.stats")
-- (docs/canary.md#the-statistics). Never loaded by summit itself.

---@class summit.stats.MannWhitney
---@field u number U of x: pairs with x > y, ties counting 1/2 (R's W, scipy's U1)
---@field u_y number m n - u
---@field p number
---@field method "exact"|"asymptotic"
---@field z? number asymptotic: the standardised statistic
---@field n_x integer
---@field n_y integer
---@field ties integer[] Sizes of the tied groups
---@field alternative "two-sided"|"greater"|"less"

---@class summit.stats
local stats = {}

---@param xs number[]
---@return number
function stats.mean(xs) end

---@param xs number[]
---@return number
function stats.median(xs) end

---The p-quantile, R's type 7 (linear interpolation).
---@param xs number[]
---@param p number
---@return number
function stats.quantile(xs, p) end

---Ranks (ties share the mean rank) and the sizes of the tied groups.
---@param xs number[]
---@return number[] ranks
---@return integer[] ties
function stats.ranks(xs) end

---P(Z <= z) for a standard normal Z; upper = true: P(Z > z).
---@param z number
---@param upper? boolean
---@return number
function stats.pnorm(z, upper) end

---The standard normal quantile.
---@param p number
---@return number
function stats.qnorm(p) end

---P(U <= u) for samples of sizes m and n without ties, exactly.
---@param u number
---@param m integer
---@param n integer
---@return number
function stats.pwilcox(u, m, n) end

---The Mann-Whitney U test (two-sample Wilcoxon rank-sum), as R's
---wilcox.test and scipy.stats.mannwhitneyu: exact without ties when both
---samples are under 50, else normal with tie and continuity corrections.
---@param x number[]
---@param y number[]
---@param opts? { alternative?: "two-sided"|"greater"|"less", correct?: boolean, method?: "auto"|"exact"|"asymptotic" }
---@return summit.stats.MannWhitney
function stats.mann_whitney(x, y, opts) end

---The median of all pairwise differences x[i] - y[j].
---@param x number[]
---@param y number[]
---@return number
function stats.hodges_lehmann(x, y) end

---A two-sided confidence interval for the shift of x against y.
---@param x number[]
---@param y number[]
---@param confidence number e.g. 0.95
---@param method? "auto"|"exact"|"asymptotic"
---@return number lower
---@return number upper
---@return { k: integer, method: string, achieved?: number, estimate: number } info
function stats.shift_interval(x, y, confidence, method) end

---The smallest two-sided p-value samples of sizes m and n can give.
---@param m integer
---@param n integer
---@return number
function stats.min_p(m, n) end

return stats
