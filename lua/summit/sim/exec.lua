-- Scripted commands: what `exec` in a simulated pod answers. A scenario
-- lists them as data:
--
--   exec = {
--     { match = { "npx", "tsx", "scripts/migrate.ts" }, stdout = "migrated 3\n",
--       exit_code = 0 },
--     { match = { "sh", "-c" }, prefix = true, deployment = "web*",
--       stderr = "boom\n", exit_code = 2 },
--   }
--
-- The first entry whose match equals argv (or is a prefix of it with
-- prefix = true), and whose optional deployment / pod / container globs
-- fit, gives stdout, stderr and exit_code (default 0). No match: exit
-- code 127 and "command not found" on stderr, as a shell would say.
--
-- Commands with state (a migration that changes what a status command
-- says next): `when = { key = "value", other = false }` makes an entry
-- match only while the state ConfigMap's data holds those values (false:
-- the key is absent), and `set = { key = "value", other = false }` writes
-- the data once the entry answers (false removes the key), whatever its
-- exit code. The state ConfigMap is `state =` (default "sim-exec") in the
-- pod's namespace, created when first set, so kubectl shows it and the
-- state file keeps it:
--
--   { match = { "migrate", "up" }, when = { schema = "41" }, set = { schema = "42" } },
--   { match = { "migrate", "status" }, when = { schema = "42" }, stdout = "42\n" },
--
-- `delay_seconds = N` (simulated seconds) makes the WebSocket exec answer
-- that much later, as a long migration would (state is set at once, when
-- the command starts); the in-process sim.exec answers at once.
--
-- The sim serves them over the Kubernetes WebSocket exec protocol
-- (summit/sim/ws_exec.lua: kubectl exec, summit's cluster client) and
-- in-process through sim.exec() (summit/sim.lua).

local U = require("summit.sim.util")

local M = {}

local function matches(entry, argv)
  local m = entry.match
  if type(m) ~= "table" then return false end
  if not entry.prefix and #m ~= #argv then return false end
  if #m > #argv then return false end
  for i = 1, #m do
    if tostring(m[i]) ~= argv[i] then return false end
  end
  return true
end

M.STATE = "sim-exec"

local function state_data(store, ns, name)
  local cm = store and store:get("configmaps", ns, name)
  return cm and cm.data or {}
end

-- Whether the state ConfigMap holds what `when` asks (false: absent).
local function state_fits(store, ns, e)
  if type(e.when) ~= "table" then return true end
  local data = state_data(store, ns, e.state or M.STATE)
  for k, v in pairs(e.when) do
    if v == false or v == U.null then
      if data[k] ~= nil then return false end
    elseif data[k] ~= tostring(v) then
      return false
    end
  end
  return true
end

-- Writes `set` into the state ConfigMap (creating it).
local function state_set(store, ns, e)
  if type(e.set) ~= "table" or not store then return end
  local name = e.state or M.STATE
  local cm = store:get("configmaps", ns, name)
  local obj = cm and U.copy(cm) or {
    apiVersion = "v1", kind = "ConfigMap",
    metadata = { name = name, namespace = ns,
                 annotations = { ["summit.dev/sim"] = "state of the scenario's exec commands" } },
  }
  local data = obj.data or {}
  for k, v in pairs(e.set) do
    if v == false or v == U.null then data[k] = nil else data[k] = tostring(v) end
  end
  obj.data = data
  if cm then store:update("configmaps", obj) else store:create("configmaps", obj) end
end

-- run(scenario, pod, container, argv [, store]) -> { stdout, stderr,
-- exit_code }; store (the sim's) is where `when` reads and `set` writes.
function M.run(scenario, pod, container, argv, store)
  local deploy = pod.metadata.labels and pod.metadata.generateName and
    pod.metadata.generateName:match("^(.*)%-[^%-]+%-$")
  local ns = pod.metadata.namespace or "default"
  for _, e in ipairs(scenario.exec or {}) do
    if matches(e, argv) and
       (e.deployment == nil or U.glob(e.deployment, deploy or "")) and
       (e.pod == nil or U.glob(e.pod, pod.metadata.name)) and
       (e.container == nil or U.glob(e.container, container or "")) and
       state_fits(store, ns, e) then
      state_set(store, ns, e)
      return { stdout = tostring(e.stdout or ""), stderr = tostring(e.stderr or ""),
               exit_code = tonumber(e.exit_code) or 0,
               delay_seconds = tonumber(e.delay_seconds) or 0 }
    end
  end
  return { stdout = "",
           stderr = string.format("sh: %s: command not found\n", tostring(argv[1])),
           exit_code = 127 }
end

return M
