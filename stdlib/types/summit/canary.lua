---@meta summit.canary
-- Annotations for lua-language-server: require("summit.canary")
-- (docs/canary.md). Never loaded by summit itself.

---@alias summit.canary.Outcome "successful"|"failed"|"inconclusive"|"error"
---@alias summit.canary.NoData "fail"|"inconclusive"|"ignore"

---A query for a baseline (the production/stable track): PromQL, or a
---template (default: the metric's own) with vars over the metric's vars.
---@class summit.canary.Baseline
---@field query? string
---@field template? string
---@field vars? table<string, string|number|boolean>

---The statistical comparison of canary and baseline samples (Kayenta's
---Mann-Whitney classifier). The samples are the points of a range query over
---`window`, one every `step`.
---@class summit.canary.Compare
---@field direction? "increase"|"decrease"|"either" Which change fails (default "either")
---@field confidence? number Confidence level of the shift's interval, 0.5..1 (default 0.98)
---@field effect? number Tolerance band as a fraction: +-effect x |baseline median| (default 0.25)
---@field band? "baseline"|"estimate" What the band is a fraction of (default "baseline"; "estimate": Kayenta's |Hodges-Lehmann estimate|)
---@field min_effect? number The band is at least this wide, in the metric's unit (default 0)
---@field remove_outliers? boolean Drop samples outside Tukey's fences at 3 IQR (default false)

---One metric of an analysis.
---@class summit.canary.Metric
---@field name? string Required in a list; the key in a table by name
---@field query? string|table PromQL for the canary, or the query of its provider (or template)
---@field provider? string A metrics provider of summit.lua (metrics.providers) for query and baseline
---@field template? string A metrics.queries template for the canary (it selects its provider)
---@field vars? table<string, string|number|boolean> Template variables, over the analysis' vars
---@field baseline? string|summit.canary.Baseline PromQL, or a baseline spec (needed by max_increase, max_decrease, compare)
---@field max? number Fails when the value is above
---@field min? number Fails when the value is below
---@field max_increase? number Fails when value > baseline + |baseline| x max_increase + margin (0.10 = 10%)
---@field max_decrease? number Fails when value < baseline - |baseline| x max_decrease - margin
---@field margin? number Absolute slack of the relative limits (default 0: a baseline of 0 allows nothing)
---@field compare? summit.canary.Compare|true Mann-Whitney U with a Hodges-Lehmann effect band
---@field success? fun(value: number, m: table): boolean Argo's successCondition (m: value, baseline, values, baseline_values)
---@field failure? fun(value: number, m: table): boolean Argo's failureCondition
---@field dry_run? boolean Measured and reported, never decides (default false)
---@field critical? boolean Failing (or erring) fails the analysis at once and makes the score 0 (default false)
---@field weight? number Share in the score (default 1)
---@field failure_limit? integer Overrides the analysis' value
---@field inconclusive_limit? integer Overrides the analysis' value
---@field consecutive_error_limit? integer Overrides the analysis' value
---@field consecutive_success? integer Overrides the analysis' value
---@field no_data? summit.canary.NoData Overrides the analysis' value
---@field window? summit.Duration compare: the range the samples come from (default: the interval, else 5m)
---@field step? summit.Duration compare: the samples' spacing (default window / 30, at least 1s)

---What a measurement source is asked (the `measure` option).
---@class summit.canary.Request
---@field metric string
---@field side "canary"|"baseline"
---@field round integer
---@field query? string
---@field template? string
---@field vars? table<string, string|number|boolean>
---@field range? { start: number, stop: number, step: number } Set for compare metrics (unix seconds)

---@class summit.canary.Options
---@field metrics summit.canary.Metric[]|table<string, summit.canary.Metric>
---@field name? string Names the analysis' step and its audit records (default "canary")
---@field count? integer Measurement rounds (default 1)
---@field interval? summit.Duration Durable sleep between rounds (default "1m")
---@field initial_delay? summit.Duration Durable sleep before the first round (default 0)
---@field failure_limit? integer Failed measurements tolerated; -1: off (default 0)
---@field inconclusive_limit? integer Inconclusive measurements tolerated; -1: off (default 0)
---@field consecutive_error_limit? integer Errors in a row tolerated; -1: off (default 4)
---@field consecutive_success? integer Successes in a row that pass a metric early (default: not used)
---@field no_data? summit.canary.NoData An empty result or NaN (default "inconclusive")
---@field vars? table<string, string|number|boolean> Template variables for every metric
---@field thresholds? { pass: number, marginal?: number } Decide by the weighted score (Kayenta) instead of the worst metric
---@field window? summit.Duration Default window of compare metrics
---@field step? summit.Duration Default step of compare metrics
---@field audit? boolean Record measurements and the verdict with audit.record (default true)
---@field measure? fun(req: summit.canary.Request): any Another source of values: a number or nil (instant), a list of numbers or series (range); raise for an error

---One measurement of one metric.
---@class summit.canary.Measurement
---@field metric string
---@field round integer
---@field at number Unix seconds (journaled)
---@field query string The canary's PromQL (or "template NAME{vars}")
---@field baseline_query? string
---@field value? number|string The canary's value ("NaN", "+Inf", "-Inf" as strings); compare: the samples' mean
---@field baseline? number|string
---@field values? number[] compare: the canary samples used
---@field baseline_values? number[] compare: the baseline samples used
---@field range? { start: number, stop: number, step: number }
---@field dropped? { canary: integer, baseline: integer } Non-finite samples left out
---@field outliers? { canary: integer, baseline: integer } Samples left out by remove_outliers
---@field condition string The metric's condition in words
---@field checks? { condition: string, outcome: string, detail: string, limit?: number, stats?: table }[]
---@field outcome summit.canary.Outcome|"ignored"
---@field reason string Why this outcome
---@field error? string "CODE: message" of an error outcome
---@field no_data? boolean
---@field dry_run? boolean

---@class summit.canary.MetricVerdict
---@field verdict summit.canary.Outcome|"stopped"
---@field reason string
---@field count integer
---@field successful integer
---@field failed integer
---@field inconclusive integer
---@field error integer
---@field ignored integer
---@field consecutive_error integer
---@field consecutive_success integer
---@field dry_run boolean
---@field critical boolean
---@field weight number
---@field condition string
---@field query string
---@field baseline_query? string
---@field limits table

---@class summit.canary.Verdict
---@field verdict summit.canary.Outcome
---@field reason string
---@field score? number 0..100: the weighted share of decided, deciding metrics that are successful (0 when a critical one failed)
---@field rounds integer Rounds measured
---@field count integer
---@field name string
---@field metrics table<string, summit.canary.MetricVerdict>
---@field measurements summit.canary.Measurement[]

---@class summit.canary
local canary = {}

---Runs a canary analysis: `count` measurement rounds, each a journaled step,
---with durable sleeps between them; returns the verdict with every
---measurement. Raises at once (naming the argument) on misuse; never raises
---for what it measured: the runbook decides the reaction.
---@param opts summit.canary.Options
---@return summit.canary.Verdict
function canary.analyze(opts) end

return canary
