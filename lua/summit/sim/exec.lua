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

-- run(scenario, pod, container, argv) -> { stdout, stderr, exit_code }
function M.run(scenario, pod, container, argv)
  local deploy = pod.metadata.labels and pod.metadata.generateName and
    pod.metadata.generateName:match("^(.*)%-[^%-]+%-$")
  for _, e in ipairs(scenario.exec or {}) do
    if matches(e, argv) and
       (e.deployment == nil or U.glob(e.deployment, deploy or "")) and
       (e.pod == nil or U.glob(e.pod, pod.metadata.name)) and
       (e.container == nil or U.glob(e.container, container or "")) then
      return { stdout = tostring(e.stdout or ""), stderr = tostring(e.stderr or ""),
               exit_code = tonumber(e.exit_code) or 0 }
    end
  end
  return { stdout = "",
           stderr = string.format("sh: %s: command not found\n", tostring(argv[1])),
           exit_code = 127 }
end

return M
