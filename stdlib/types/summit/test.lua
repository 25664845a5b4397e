---@meta summit.test
-- Annotations for lua-language-server: require("summit.test") in the
-- *_test.lua files `summit test` runs (docs/testing.md). Never loaded by
-- summit itself.

---@class summit.test.RunOptions
---@field approve? table<string, string|string[]> Gate name -> who approves it (summit approve as them)
---@field scenario? table Sim scenario knobs laid over the clusters' own (objects merge, lists replace)
---@field kill_at? integer Kill the run right after its journal record number kill_at (as SIGKILL)
---@field env? string --env NAME
---@field user? string Who starts the run (default summit-test)

---@class summit.test.ResumeOptions
---@field kill_at? integer
---@field upgrade? boolean --upgrade
---@field retry? boolean --retry
---@field skip? boolean --skip

---@class summit.test.Record A journal record (summit log RUN --json)
---@field key string
---@field state "started"|"completed"|"failed"|"skipped"
---@field attempt integer
---@field kind string
---@field name? string
---@field site? string
---@field error? table
---@field ts string

---@class summit.test.Run
---@field id string The run's id
---@field status string Where it stopped: "succeeded", "failed", "suspended", "killed", "needs_attention", ...
---@field code integer The exit code of its last command
local Run = {}
---@param o? summit.test.ResumeOptions
---@return summit.test.Run
function Run:resume(o) end
---@param gate string
---@param who string
---@param comment? string
---@return integer code, string output
function Run:approve(gate, who, comment) end
---@param gate string
---@param who string
---@param comment? string
---@return integer code, string output
function Run:reject(gate, who, comment) end
---@param d string|number A duration ("2h") or seconds: the clock moves on while nothing runs
function Run:advance(d) end
---@return table status summit status RUN --json
function Run:info() end
---@return any result What run() returned
function Run:result() end
---@return summit.test.Record[]
function Run:journal() end
---@param name string
---@return summit.test.Record|nil newest The newest record of the entry with that name
function Run:entry(name) end
---@param pattern string
---@return string[] names
function Run:entries(pattern) end
---@param action? string The newest record of this action instead of them all
---@return table[]|table|nil records summit audit export --run RUN
function Run:audit(action) end
---@return string output What the run's commands printed
function Run:output() end

---@class summit.test.Context
---@field state_dir string The case's state directory
local Ctx = {}
---@param name string A runbook's name (or file)
---@param params? table<string, any>
---@param opts? summit.test.RunOptions
---@return summit.test.Run
function Ctx:run(name, params, opts) end
---@param args string[] A summit command and its arguments
---@param user? string
---@return integer code, string output
function Ctx:summit(args, user) end
---@param resource string e.g. "deployments", "configmaps"
---@param namespace string
---@param name string
---@param cluster? string Default "sim"
---@return table|nil
function Ctx:object(resource, namespace, name, cluster) end
---@return table[]
function Ctx:objects(resource, namespace, cluster) end
---@return string|nil image The first container's image of a Deployment
function Ctx:image(namespace, name, cluster) end
---@return number ms The virtual clock, ms since the epoch
function Ctx:now() end
---@return summit.test.Context
function Ctx:fresh() end

---@class summit.test
---@field DEFAULT_START string
local test = {}
---@param name string
---@param fn fun(ctx: summit.test.Context)
---@param opts? { at?: string }
function test.case(name, fn, opts) end
function test.eq(actual, expected, what) end
function test.ok(v, what) end
function test.has(text, part, what) end
function test.match(text, pattern, what) end
---@param actual number
---@param bound number
function test.gt(actual, bound, what) end
---@param actual number
---@param bound number
function test.lt(actual, bound, what) end
---@param message string
function test.fail(message) end

return test
