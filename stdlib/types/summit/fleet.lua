---@meta summit.fleet
-- Annotations for lua-language-server: require("summit.fleet")
-- (docs/stdlib/fleet.md). Never loaded by summit itself.

---@class summit.fleet.Target
---@field name string Letters, digits, '_' and '-' (part of the journal keys)

---@class summit.fleet.Options
---@field targets (string|summit.fleet.Target)[] Names, or tables with a name (given to each)
---@field each fun(target: summit.fleet.Target): any What to do on one target; raising fails it
---@field name? string Names the step "fleet NAME", the gate and the audit records (default "fleet")
---@field max_concurrency? integer|string Targets at once: a number or "N%" (default 1)
---@field max_errors? integer|string Failures tolerated: a number or "N%" (default 0); spent at the (N+1)th
---@field order? "given"|"name"|"reverse"|fun(a: summit.fleet.Target, b: summit.fleet.Target): boolean
---@field on_budget? "fail"|"pause" Past the budget: raise EFLEET, or wait at an approval gate
---@field gate? string The gate of on_budget = "pause" (default "fleet-NAME")
---@field audit? boolean false: no audit records

---@class summit.fleet.TargetResult
---@field name string
---@field status "succeeded"|"failed"|"not_started"
---@field result? any What each returned
---@field error? { code: string, message: string, key?: string }

---@class summit.fleet.Result
---@field name string
---@field status "succeeded"|"completed_with_errors"|"stopped"
---@field succeeded integer
---@field failed integer
---@field not_started integer
---@field max_concurrency integer
---@field max_errors integer
---@field pauses? integer
---@field targets summit.fleet.TargetResult[]

---@class summit.fleet
local fleet = {}

---Rolls each over the targets with a concurrency cap and an error budget.
---Raises EFLEET (field fleet: the result) when the budget is spent and
---on_budget is "fail".
---@param opts summit.fleet.Options
---@return summit.fleet.Result
function fleet.rollout(opts) end

return fleet
