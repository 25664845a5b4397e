---@meta summit.checklist
-- Annotations for lua-language-server: require("summit.checklist")
-- (docs/stdlib/checklist.md). Never loaded by summit itself.

---An item: "text" (manual), or { "text", check = fn | spec } (automatic),
---or { "text", roles = {...} } / { "text", gate = "g" } (manual, own gate).
---@class summit.checklist.Item
---@field [1] string The item's text
---@field check? (fun(): any)|summit.checks.HttpSpec|summit.checks.CommandSpec|{ command: string } Automatic: a function answering truthy, or a summit.checks spec
---@field roles? string[] Manual: acknowledged on a gate of its own by a holder of one of these roles
---@field gate? string Manual: its own gate's name
---@field optional? boolean Automatic: a failure is recorded but does not fail the checklist

---@class summit.checklist.Options
---@field gate? string The list's gate (default "checklist-<name>"); per-item gates are "<gate>/<item slug>"
---@field roles? string[]|table<string, integer> Who may acknowledge (approval.require roles)
---@field count? integer Acknowledgements needed per gate (default 1)
---@field timeout? summit.Duration How long a gate stays open
---@field per_item? boolean One gate per manual item

---@class summit.checklist.Checked
---@field item string
---@field kind "auto"|"manual"
---@field ok boolean
---@field by string "summit" for automatic items, else the person who acknowledged
---@field at? string When it was acknowledged (RFC 3339)
---@field comment? string The acknowledger's --comment
---@field gate? string
---@field result? any An automatic item's result
---@field error? { code: string, message: string }

---@class summit.checklist
local checklist = {}

---Runs the checklist as one step "checklist NAME": automatic items first
---(ECHECK naming the failed ones, nobody asked), then the gates; each
---acknowledgement is audited as checklist.ack.
---@param name string
---@param items (string|summit.checklist.Item)[]
---@param opts? summit.checklist.Options
---@return { name: string, ok: true, items: summit.checklist.Checked[] }
function checklist.run(name, items, opts) end

return checklist
