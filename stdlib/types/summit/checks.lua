---@meta summit.checks
-- Annotations for lua-language-server: require("summit.checks")
-- (docs/stdlib/checks.md). Never loaded by summit itself.

---@class summit.checks.HttpSpec
---@field url string http:// or https://
---@field name? string The step's name (default "http <url without query>")
---@field method? string Default GET
---@field headers? table<string, string>
---@field body? string
---@field expect_status? integer|integer[] Default 200
---@field contains? string The body must contain this text
---@field json_path? string A path into the JSON body: "status", "checks.db.status", "items[1].name"
---@field equals? any The value json_path must have (default: present, not false or null)
---@field retries? integer Attempts after the first (default 3)
---@field interval? summit.Duration Durable sleep between attempts (default "2s")
---@field timeout? summit.Duration Per request (default "5s")
---@field insecure? boolean Skip TLS verification

---@class summit.checks.HttpResult
---@field ok true
---@field name string
---@field url string
---@field status integer
---@field value? any The value at json_path
---@field attempts integer

---@class summit.checks.CommandSpec
---@field argv string[] The command (no shell)
---@field name? string The step's name (default: the argv joined)
---@field expect_code? integer Default 0
---@field contains? string stdout must contain this text
---@field retries? integer Attempts after the first (default 0)
---@field interval? summit.Duration Default "2s"
---@field timeout? summit.Duration Per attempt
---@field cwd? string
---@field env? table<string, string|number|false>

---@class summit.checks.CommandResult
---@field ok true
---@field name string
---@field argv string[]
---@field code integer
---@field stdout string The first 4000 bytes
---@field attempts integer

---@class summit.checks.ConfigOptions: summit.checks.CommandSpec
---@field args? string[] Appended to the configured argv

---One suite item: { "name", function } or { "name", spec } or
---{ name = , url = ... } / { name = , argv = ... } / { name = , command = "smoke" }.
---@class summit.checks.SuiteItem
---@field [1]? string
---@field [2]? fun(): any|summit.checks.HttpSpec|summit.checks.CommandSpec|table
---@field name? string
---@field fn? fun(): any
---@field command? string A command of summit.lua's commands

---@class summit.checks.SuiteResult
---@field ok true
---@field name string
---@field results { name: string, ok: boolean, result?: any, error?: { code: string, message: string } }[]

---Errors: ECHECK with check, attempts (and url or argv); a suite's ECHECK
---has suite, failed (names) and results.
---@class summit.checks
local checks = {}

---An HTTP health check with retries: one journaled step.
---@param spec summit.checks.HttpSpec
---@return summit.checks.HttpResult
function checks.http(spec) end

---A command check: one journaled step.
---@param spec summit.checks.CommandSpec
---@return summit.checks.CommandResult
function checks.command(spec) end

---checks.command with the argv of summit.lua's commands[name].
---@param name string
---@param opts? summit.checks.ConfigOptions
---@return summit.checks.CommandResult
function checks.command_from_config(name, opts) end

---Runs every check (each a step) inside a step "suite NAME"; raises ECHECK
---naming the failed ones after all have run.
---@overload fun(items: summit.checks.SuiteItem[]): summit.checks.SuiteResult
---@param name string
---@param items summit.checks.SuiteItem[]
---@return summit.checks.SuiteResult
function checks.suite(name, items) end

return checks
