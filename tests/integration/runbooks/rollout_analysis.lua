-- A canary judged by summit.canary on the sim's metrics (pods labelled
-- track=canary): a failed verdict fails the run, and the undo path takes
-- the canary away and gives the stable back its replicas.
local rollout = require("summit.rollout")
local canary = require("summit.canary")

local ERRORS = 'sum(rate(http_requests_total{namespace="prod",app="web",track="%s",code=~"5.."}[1m]))'
  .. ' / sum(rate(http_requests_total{namespace="prod",app="web",track="%s"}[1m]))'

return runbook {
  name = "rollout_analysis",
  params = { image = { default = "registry/web:v2-errors" } },
  run = function(p)
    local r = rollout.canary{ name = "web", image = p.image, weight = 25, timeout = "2m" }
    local v = canary.analyze{
      name = "web", count = 2, interval = "2s", initial_delay = "2s",
      metrics = { { name = "error_rate", query = ERRORS:format("canary", "canary"), max = 0.01,
                    critical = true } },
    }
    if v.verdict ~= "successful" then
      fail("canary " .. v.verdict .. ": " .. v.reason)
    end
    return r
  end,
}
