---@meta summit.flags
-- Annotations for lua-language-server: require("summit.flags")
-- (docs/stdlib/flags.md). Never loaded by summit itself.

---@class summit.flags.Options
---@field configmap? string The ConfigMap (default "feature-flags")
---@field namespace? string Default: the environment's
---@field cluster? summit.ClusterClient A client from cluster() (default: cluster())

---@class summit.flags.RolloutOptions: summit.flags.Options
---@field between? fun(percent: number) Runs after every percentage but the last, inside its step

---@class summit.flags.Change
---@field value string The value written ("25")
---@field previous? string The value it replaced (nil: the flag was unset)
---@field created? boolean The call created the ConfigMap

---@class summit.flags
---@field DEFAULT_CONFIGMAP string "feature-flags"
local flags = {}

---Sets a flag to a percentage (one step, with an undo).
---@param name string A ConfigMap key: letters, digits, '-', '_', '.'
---@param percent number 0..100
---@param opts? summit.flags.Options
---@return summit.flags.Change
function flags.set(name, percent, opts) end

---set(name, 100)
---@param name string
---@param opts? summit.flags.Options
---@return summit.flags.Change
function flags.enable(name, opts) end

---set(name, 0)
---@param name string
---@param opts? summit.flags.Options
---@return summit.flags.Change
function flags.disable(name, opts) end

---The flag's percentage, or nil when it is not set. Raises EFLAG on a value that is not one.
---@param name string
---@param opts? summit.flags.Options
---@return number?
function flags.get(name, opts) end

---Every flag of the ConfigMap.
---@param opts? summit.flags.Options
---@return table<string, number>
function flags.all(opts) end

---One step per percentage (the change, then `between`).
---@param name string
---@param percents number[] Increasing, e.g. { 10, 50, 100 }
---@param opts? summit.flags.RolloutOptions
---@return number[]
function flags.rollout(name, percents, opts) end

return flags
