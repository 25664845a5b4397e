---@meta summit.window
-- Annotations for lua-language-server: require("summit.window")
-- (docs/stdlib/window.md). Never loaded by summit itself.

---@class summit.window.Detail
---@field allowed boolean
---@field reason string
---@field env? string
---@field at string The instant judged (RFC 3339, UTC)
---@field local_time string e.g. "2026-12-01 tue 10:30 +01:00"
---@field timezone string
---@field window? string The allow window it falls in
---@field freeze? { reason: string, name?: string, period: string }
---@field next_opening? string RFC 3339
---@field overridden? boolean window.require: allowed by an override approval
---@field justification? string
---@field approvers? string[]

---@class summit.window.Options
---@field at? number Judge this instant (seconds since the epoch) instead of now()

---@class summit.window.RequireOptions: summit.window.Options
---@field override_gate? string Inside a freeze or outside the windows, ask this gate instead of failing
---@field justification? string Required with override_gate; shown to approvers, bound to the gate, audited
---@field roles? string[]|table<string, integer> Who may approve the override
---@field count? integer
---@field timeout? summit.Duration

---@class summit.window
local window = {}

---Whether deployments to env are allowed now (or at opts.at).
---@param env? string An environment of summit.lua (default: --env; none: the top-level windows)
---@param opts? summit.window.Options
---@return boolean allowed
---@return string reason
---@return number? next_opening Seconds since the epoch; nil when allowed or nothing opens within 400 days
---@return summit.window.Detail detail
function window.check(env, opts) end

---A journaled step "window ENV": returns when allowed; otherwise raises
---EWINDOW, unless override_gate and a justification are given: then the
---gate must be approved, and the override is audited (window.override).
---@param env? string
---@param opts? summit.window.RequireOptions
---@return summit.window.Detail
function window.require(env, opts) end

---Sleeps (durably) until env's window opens; raises EWINDOW when nothing
---opens within 400 days.
---@param env? string
---@param opts? summit.window.Options
function window.wait(env, opts) end

return window
