-- A canary routed by a built-in traffic router (summit.routers): at a
-- weight, then promote, abort, a failure (the undo) or nothing.
local rollout = require("summit.rollout")

local REFS = { gateway = "httproute/web", istio = "virtualservice/web", nginx = "ingress/web",
               smi = "trafficsplit/web" }

return runbook {
  name = "rollout_router",
  params = {
    router = { enum = { "gateway", "istio", "nginx", "smi" }, default = "gateway" },
    image = { default = "registry/web:v2" },
    weight = { type = "number", default = 5 },
    steps = { type = "string", description = "progressive weights instead of one canary, e.g. 25,100" },
    after = { enum = { "none", "promote", "abort", "fail" }, default = "none" },
    pause = { type = "string", default = "0s", description = "progressive: a sleep between weights" },
  },
  run = function(p)
    local route = { [p.router] = REFS[p.router] }
    local r
    if p.steps then
      local steps = {}
      for w in p.steps:gmatch("%d+") do steps[#steps + 1] = tonumber(w) end
      r = rollout.progressive{ name = "web", image = p.image, steps = steps, route = route, timeout = "2m",
                               between = function() sleep(p.pause) end }
    else
      r = rollout.canary{ name = "web", image = p.image, weight = p.weight, route = route, timeout = "2m" }
    end
    if p.after == "promote" then
      r.promoted = rollout.promote{ name = "web", route = route, timeout = "2m" }
    elseif p.after == "abort" then
      r.aborted = rollout.abort{ name = "web", route = route, timeout = "2m" }
    elseif p.after == "fail" then
      step("analysis", function() fail("canary error rate 3% > 1%") end)
    end
    return r
  end,
}
